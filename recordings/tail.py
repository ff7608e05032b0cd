"""The recent past of a session still being recorded, read from its files: what a viewer that attaches shows first.

Only the last parts are read (a 24-hour session has 1,440 of a minute each;
the window needs a few), from the newest backwards until they cover the
window: the last `raw_s` seconds at the sampling rate, and one mean a second
for `long_s` seconds before that (a dashboard's longer sparkline windows draw
per-second means), all before `before_us` (where the live stream takes over).
The events are read from the end of events.jsonl the same way (`recent_events`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import polars as pl

from recordings import segments
from recordings.errors import InputError
from recordings.events import EVENTS
from recordings.frames import finite_or_null
from recordings.reader import session_columns_of
from recordings.safe_files import is_regular
from recordings.session import read_meta


def recent_frames(session: Path, before_us: int, raw_s: float, long_s: float = 0.0) -> list[dict[str, Any]]:
    """Frames (ts as µs) before `before_us`: per-second means from `raw_s + long_s` back, then every row of the
    last `raw_s`, oldest first; [] for a session without readable samples yet."""
    since_us = before_us - int((raw_s + long_s) * 1e6)
    try:
        table = _tail(session, since_us)
    except (OSError, pl.exceptions.PolarsError, InputError):
        return []
    if table.is_empty() or "elapsed_s" not in table.columns:
        return []
    table = table.with_columns(pl.col("ts").dt.epoch("us")).filter(pl.col("ts").is_between(since_us, before_us - 1))
    raw_from = before_us - int(raw_s * 1e6)
    older, recent = table.filter(pl.col("ts") < raw_from), table.filter(pl.col("ts") >= raw_from)
    if not older.is_empty():
        older = _per_second(older).select(table.columns)
    return finite_or_null(pl.concat([older, recent])).to_dicts()


def _tail(session: Path, since_us: int) -> pl.DataFrame:
    """The rows of the last parts, newest part first read, back to the one that starts before `since_us`."""
    if is_regular(session / segments.SAMPLES_PARQUET):  # closed meanwhile: one file, read from its end
        return pl.scan_parquet(session / segments.SAMPLES_PARQUET).filter(
            pl.col("ts").dt.epoch("us") >= since_us).collect()
    columns = session_columns_of(read_meta(session))
    parts: list[pl.DataFrame] = []
    for path in reversed(segments.segment_files(session)):
        try:
            part = segments.read_segment(path, columns)
        except FileNotFoundError:  # a journal that landed as its Parquet part meanwhile: the listing is old
            continue
        parts.append(part)
        first_us = part["ts"].dt.epoch("us").min()
        if isinstance(first_us, int) and first_us <= since_us:
            break
    return pl.concat(parts[::-1], how="diagonal_relaxed") if parts else pl.DataFrame()


def _per_second(table: pl.DataFrame) -> pl.DataFrame:
    """One row a second: means of the measured values, the last of the rest (states, lists, counters)."""
    floats = [name for name, kind in table.schema.items() if kind.is_float() and name != "elapsed_s"]
    rest = [name for name in table.columns if name not in floats and name not in ("ts", "elapsed_s")]
    return (table.group_by(pl.col("elapsed_s").floor().alias("_second"), maintain_order=True)
            .agg(pl.col("ts").last(), pl.col("elapsed_s").last(), *(pl.col(n).mean() for n in floats),
                 *(pl.col(n).last() for n in rest))
            .drop("_second"))


EVENTS_TAIL_BYTES = 256 * 1024  # a workload that logs a metric every step makes events.jsonl large


def recent_events(session: Path, before_us: int, kinds: frozenset[str], last: int) -> list[dict[str, Any]]:
    """The last `last` events of `kinds` stamped before `before_us`, from the end of the session's events.jsonl."""
    from collectors.timeutil import us_from_iso

    try:
        with open(session / EVENTS, "rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - EVENTS_TAIL_BYTES))
            lines = file.read().split(b"\n")[(1 if size > EVENTS_TAIL_BYTES else 0):]  # a cut first line
    except OSError:
        return []
    found = []
    for line in lines:
        try:
            event = json.loads(line)
            if event.get("kind") in kinds and us_from_iso(event["ts"]) < before_us:
                found.append(event)
        except (ValueError, TypeError, KeyError, AttributeError):
            continue  # a line being written, or not an event
    return found[-last:]
