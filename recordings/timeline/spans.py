"""Probe spans as timeline slices, laid on lanes so that a nested span sits inside its parent.

A viewer stacks the slices of one track by time: a slice inside another on the same track is drawn
below it.  Each span goes on its parent's lane when it fits inside the parent there; a root span (or a
child that cannot nest, such as one of two children running at once) goes on the first lane free at
its start, else on a new one.  Every span keeps its `span_id` and `parent_id` among its args.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from recordings.spans import read_spans
from recordings.timeline.model import Slice

TIMES = ("start_time", "end_time")
TRACK = "spans"


def _arg(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value if isinstance(value, (str, int, float, bool)) else str(value)


def lane_name(lane: int) -> str:
    return TRACK if lane == 0 else f"{TRACK} {lane + 1}"


def span_slices(session: Path, start_us: int | None = None, end_us: int | None = None,
                clock: Callable[[int], int] = int) -> list[Slice]:
    """Every finished span that overlaps [start_us, end_us], on its lane, attributes as args; `clock` puts a
    wall time (µs) on the timeline's clock."""
    table = read_spans(session)
    if table.height == 0 or not all(c in table.columns for c in TIMES):
        return []
    table = (table.with_columns(pl.col(c).dt.epoch("us").map_elements(clock, return_dtype=pl.Int64).alias(a)
                                for c, a in zip(TIMES, ("_start", "_end")))
             .filter(pl.col("_start").is_not_null() & pl.col("_end").is_not_null() & (pl.col("_end") >= pl.col("_start"))))
    if start_us is not None:
        table = table.filter(pl.col("_end") >= start_us)
    if end_us is not None:
        table = table.filter(pl.col("_start") <= end_us)
    table = table.sort("_start", pl.col("_end"), descending=[False, True])
    lanes: list[list[tuple[int, str | None]]] = []  # per lane, the stack of open spans: (end µs, span_id)
    lane_of: dict[str, int] = {}
    slices = []
    for row in table.iter_rows(named=True):
        start, end = row["_start"], row["_end"]
        span_id, parent = row.get("span_id"), row.get("parent_id")
        lane = _place(lanes, lane_of.get(parent) if parent else None, parent, start, end)
        lanes[lane].append((end, span_id))
        if span_id:
            lane_of[span_id] = lane
        args = {k: _arg(v) for k, v in row.items() if v is not None and k not in ("name", "_start", "_end")}
        slices.append(Slice(lane_name(lane), "workload", str(row.get("name") or "span"), start, end, args))
    return slices


def _place(lanes: list[list[tuple[int, str | None]]], parent_lane: int | None, parent: str | None,
           start: int, end: int) -> int:
    for stack in lanes:
        while stack and stack[-1][0] <= start:
            stack.pop()
    if parent_lane is not None:
        stack = lanes[parent_lane]
        if stack and stack[-1][1] == parent and end <= stack[-1][0]:
            return parent_lane
    for lane, stack in enumerate(lanes):
        if not stack:
            return lane
    lanes.append([])
    return len(lanes) - 1
