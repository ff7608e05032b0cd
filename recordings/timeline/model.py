"""A session as a timeline, whatever the output format: counter tracks, slices and instants.

Samples are read a slice of rows at a time (`samples.parquet` through a lazy scan, or the segments of
a session that never closed, one part at a time), so memory stays flat in the session's length.
Slices come from runs of equal values in the samples (workload state, throttle causes, collapses)
and from the span table; instants from events.jsonl (notes, tags, alerts).  A value never measured
is no point on a counter: the counter has no reading there, never a made-up 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from collectors.event_kinds import EventKind
from collectors.event_parse import NOTE_CAP, cut
from collectors.schema import ColumnTypes, column, device_prefixes, gpu_indices_of, gpu_prefix
from collectors.timeutil import us_from_iso
from collectors.values import finite
from collectors.wire import MAX_NAME
from recordings import segments
from recordings.events import EVENTS, read_events
from recordings.frames import finite_or_null
from recordings.reader import checked_samples, session_columns_of
from recordings.safe_files import is_regular
from recordings.session import read_meta
from recordings.timeline.clock import SessionClock
from recordings.timeline.runs import THROTTLE_CAUSES, Runs, cause_on, throttle_track
from recordings.timeline.window import Window

SLICE_ROWS = 16_384
# Per device: column suffix, what the track says, unit.
DEVICE_COUNTERS = (("util_pct", "utilization", "%"), ("mem_used_bytes", "memory used", "bytes"),
                   ("temp_c", "temperature", "°C"), ("power_w", "power", "W"),
                   ("clock_sm_mhz", "SM clock", "MHz"), ("clock_mem_mhz", "memory clock", "MHz"),
                   ("freq_mhz", "clock", "MHz"), ("rle_smoothed", "RLE (smoothed)", ""))
HOST_COUNTERS = (("mem_used_bytes", "memory used", "bytes"),)
SM_ACTIVITY = re.compile(r"(gpu\d+)_(sm_\w+_pct)")  # SM activity (GPM) where the session has it
PHASES = "phases"
# How a kind of run is followed: its state, the key columns of a slice of samples, and the slice a run makes.
RunMaker = tuple["Runs", Callable[[pl.DataFrame], list[pl.Series]], Callable[[tuple[Any, ...], int, int], "Slice"]]


def _name(value: Any) -> str:
    """A name from events.jsonl (a tag, a metric, an alert, a device) held to any sender's limit."""
    return cut(str(value), MAX_NAME)


@dataclass(frozen=True)
class Counter:
    column: str
    group: str  # the device (`cpu`, `gpu0`) or `host`
    name: str
    unit: str


@dataclass
class Slice:
    track: str
    group: str
    name: str
    start_us: int
    end_us: int
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Instant:
    track: str
    group: str
    name: str
    ts_us: int
    args: dict[str, Any]


@dataclass(frozen=True)
class MetricPoint:
    name: str
    ts_us: int
    value: float


class Timeline:
    """One session's timeline within `window`; InputError (from the readers) on a damaged session."""

    def __init__(self, session: Path, window: Window | None = None) -> None:
        self.session = session
        self.window = window or Window()
        self.meta = read_meta(session)
        self.columns = self._column_names()
        self.devices = device_prefixes(gpu_indices_of(self.columns))
        self.counters = self._counters()
        self._events = read_events(self.session / EVENTS)
        steps = any(e["kind"] == EventKind.CLOCK_STEP for e in self._events)
        self.clock = SessionClock(self._events, self._origin() if steps else None)
        self._causes: tuple[Window, list[tuple[str, str]]] | None = None

    # -- what the session is --------------------------------------------------------
    @property
    def host(self) -> str:
        host = self.meta.get("host")
        name = host.get("hostname") if isinstance(host, dict) else None
        return name if isinstance(name, str) and name else "unknown host"

    @property
    def session_id(self) -> str:
        found = self.meta.get("session_id")
        return found if isinstance(found, str) and found else self.session.name

    def clocks(self) -> dict[str, int] | None:
        """The machine's REALTIME, MONOTONIC and BOOTTIME read together when the session started (ns), as
        the recorder wrote them in meta.json; None for a session without them (older, simulated, imported)."""
        found = self.meta.get("clocks")
        if not isinstance(found, dict) or not isinstance(found.get("realtime_ns"), int):
            return None
        clocks = {k: v for k, v in found.items() if isinstance(v, int) and not isinstance(v, bool)}
        return {**clocks, "realtime_ns": clocks["realtime_ns"] + self.clock.lead_us * 1000}  # the timeline's clock

    def device_label(self, group: str) -> str:
        if group.startswith("gpu") and isinstance(self.meta.get("gpus"), list):
            for gpu in self.meta["gpus"]:
                if isinstance(gpu, dict) and isinstance(gpu.get("index"), int) and gpu_prefix(gpu["index"]) == group \
                        and isinstance(gpu.get("name"), str):
                    return f"{group} ({gpu['name']})"
        return group

    def _column_names(self) -> list[str]:
        target = self.session / segments.SAMPLES_PARQUET
        if is_regular(target):
            return checked_samples(pl.scan_parquet(target, glob=False), target).collect_schema().names()
        return list(session_columns_of(self.meta))

    def _counters(self) -> list[Counter]:
        present = set(self.columns)
        found = [Counter(column(p, suffix), p, name, unit) for p in self.devices
                 for suffix, name, unit in DEVICE_COUNTERS if column(p, suffix) in present]
        found += [Counter(c, "host", name, unit) for c, name, unit in HOST_COUNTERS if c in present]
        found += [Counter(c, m.group(1), m.group(2).replace("_", " "), "%") for c in self.columns
                  if (m := SM_ACTIVITY.fullmatch(c))]
        return found

    # -- samples ----------------------------------------------------------------------
    def _scans(self) -> Iterator[pl.LazyFrame]:
        target = self.session / segments.SAMPLES_PARQUET
        if is_regular(target):
            yield checked_samples(pl.scan_parquet(target, glob=False), target)
            return
        columns = session_columns_of(self.meta)
        for path in segments.segment_files(self.session):
            yield self._segment(path, columns)

    def _segment(self, path: Path, columns: ColumnTypes) -> pl.LazyFrame:
        """One part; a journal that landed as its Parquet part since the listing (a session recording while it
        is read) is read as that part."""
        try:
            return segments.read_segment(path, columns).lazy()
        except FileNotFoundError:
            landed = path.with_suffix(".parquet")
            if path.suffix != ".journal" or not is_regular(landed):
                raise
            return segments.read_segment(landed, columns).lazy()

    def _origin(self) -> tuple[int, float] | None:
        """`ts` (µs) and `elapsed_s` of the first sample that has both, as recorded."""
        if "elapsed_s" not in self.columns:
            return None
        for scan in self._scans():
            first = scan.select(pl.col("ts").dt.epoch("us"), "elapsed_s").drop_nulls().head(1).collect()
            if first.height:
                return int(first[0, 0]), float(first[0, 1])
        return None

    def _parts(self, columns: list[str]) -> Iterator[pl.LazyFrame]:
        """`ts_us` (µs since the epoch, on the timeline's clock) and `columns`, a slice of rows at a time."""
        ts = self.clock.samples(pl.col("ts").dt.epoch("us")).alias("ts_us")
        for scan in self._scans():
            rows = scan.select(pl.len()).collect().item()
            for offset in range(0, rows, SLICE_ROWS):
                yield scan.slice(offset, SLICE_ROWS).select(ts, *columns).filter(pl.col("ts_us").is_not_null())

    def samples(self, columns: list[str]) -> Iterator[pl.DataFrame]:
        """`ts_us` and `columns` a slice of rows at a time, within the window."""
        for part in self._parts(columns):
            if self.window.start_us is not None:
                part = part.filter(pl.col("ts_us") >= self.window.start_us)
            if self.window.end_us is not None:
                part = part.filter(pl.col("ts_us") <= self.window.end_us)
            table = part.collect()
            if table.height:
                yield table

    def extent(self) -> tuple[int, int] | None:
        """The first and the last sample's times, whatever the window; None without samples."""
        ends = [part.select(pl.col("ts_us").min(), pl.col("ts_us").max().alias("last")).collect().row(0)
                for part in self._parts([])]
        ends = [e for e in ends if e[0] is not None]
        return (min(e[0] for e in ends), max(e[1] for e in ends)) if ends else None

    def _edged(self, columns: list[str]) -> Iterator[pl.DataFrame]:
        """As `samples`, and the last sample before the window and the first after it: what held at its edges."""
        start, end = self.window.start_us, self.window.end_us
        before: pl.DataFrame | None = None
        for part in self._parts(columns):
            table = part.collect()
            if start is not None:
                early = table.filter(pl.col("ts_us") < start)
                before = early.tail(1) if early.height else before
                table = table.filter(pl.col("ts_us") >= start)
            past = end is not None and table.filter(pl.col("ts_us") > end).height > 0
            if past:
                table = table.head(table.filter(pl.col("ts_us") <= end).height + 1)
            if before is not None and table.height:
                table, before = pl.concat([before, table]), None
            if table.height:
                yield table
            if past:
                return

    def _cut(self, start: int, end: int) -> tuple[int, int] | None:
        """A run cut to the window; None when nothing of it is left (it ended where the window starts)."""
        w = self.window
        kept = (start if w.start_us is None else max(start, w.start_us), end if w.end_us is None else min(end, w.end_us))
        return None if kept[0] >= kept[1] and kept != (start, end) else kept

    def counter_slices(self) -> Iterator[pl.DataFrame]:
        """The counters' columns a slice at a time; with `--downsample`, the mean of each period (periods
        counted from the epoch), stamped at the first sample it averages, a period never split between two
        slices."""
        columns = [c.column for c in self.counters]
        period = self.window.period_us()
        if period is None:
            yield from self.samples(columns)
            return

        def means(table: pl.DataFrame) -> pl.DataFrame:
            return table.group_by("_period", maintain_order=True).agg(
                pl.col("ts_us").min(), pl.exclude("ts_us", "_period").mean()).drop("_period")

        carried: pl.DataFrame | None = None
        for table in self.samples(columns):  # NaN and ±inf are no reading: out of the mean, as a null is
            table = finite_or_null(table).with_columns((pl.col("ts_us") // period).alias("_period"))
            if carried is not None:
                table = pl.concat([carried, table])
            last = table["_period"][-1]
            carried = table.filter(pl.col("_period") == last)
            done = table.filter(pl.col("_period") < last)
            if done.height:
                yield means(done)
        if carried is not None:
            yield means(carried)

    def _throttled(self) -> list[str]:
        return [p for p in self.devices if p != "cpu" and column(p, "throttle_reasons") in self.columns]

    def _collapsing(self) -> list[str]:
        return [p for p in self.devices if column(p, "collapse") in self.columns]

    def _throttle_causes(self) -> list[tuple[str, str]]:
        """(device, cause) of each throttle cause the samples show within the window (and at its edges)."""
        if self._causes is None or self._causes[0] != self.window:
            gpus, seen = self._throttled(), set()
            for table in self._edged([column(p, "throttle_reasons") for p in gpus]) if gpus else ():
                seen |= {(p, cause) for p in gpus for cause, bits in THROTTLE_CAUSES
                         if cause_on(table[column(p, "throttle_reasons")], bits).any()}
            self._causes = (self.window, [(p, c) for p in gpus for c, _ in THROTTLE_CAUSES if (p, c) in seen])
        return self._causes[1]

    def run_tracks(self) -> list[tuple[str, str]]:
        """(track, group) of every track `runs` may put a slice on: a throttle cause has one of its own, since
        causes overlap in part (a track's slices must nest)."""
        tracks = [(PHASES, "workload")] if "workload_state" in self.columns else []
        tracks += [(throttle_track(p, cause), p) for p, cause in self._throttle_causes()]
        return tracks + [(f"{p} collapses", p) for p in self._collapsing()]

    def runs(self) -> Iterator[Slice]:
        """Phases (workload state), throttle episodes per cause and collapses, as slices cut to the window."""
        gpus, collapsing = self._throttled(), self._collapsing()
        wanted: list[str] = [c for c in ("workload_state", "workload_source") if c in self.columns]
        wanted += [column(p, "throttle_reasons") for p in gpus] + [column(p, "collapse") for p in collapsing]
        if not wanted:
            return
        phase = Runs()
        throttles = {(p, cause): Runs() for p, cause in self._throttle_causes()}
        collapses = {p: Runs() for p in collapsing}
        makers = self._run_makers(phase, throttles, collapses)
        for table in self._edged(wanted):
            ts = table["ts_us"]
            for runs, keys, make in makers:
                for key, start, end in runs.feed(ts, keys(table)):
                    if kept := self._cut(start, end):
                        yield make(key, *kept)
        for runs, _, make in makers:
            for key, start, end in runs.finish():
                if kept := self._cut(start, end):
                    yield make(key, *kept)

    def _run_makers(self, phase: Runs, throttles: dict[tuple[str, str], Runs],
                    collapses: dict[str, Runs]) -> list[RunMaker]:
        makers: list[RunMaker] = []
        if "workload_state" in self.columns:
            source = "workload_source" in self.columns

            def phase_keys(t: pl.DataFrame) -> list[pl.Series]:
                return [t["workload_state"], *([t["workload_source"]] if source else [])]

            makers.append((phase, phase_keys, lambda key, s, e: Slice(
                PHASES, "workload", str(key[0]), s, e, {"source": key[1]} if len(key) > 1 else {})))
        for (p, cause), runs in throttles.items():
            bits = dict(THROTTLE_CAUSES)[cause]

            def throttle_keys(t: pl.DataFrame, p: str = p, bits: int = bits) -> list[pl.Series]:
                on = cause_on(t[column(p, "throttle_reasons")], bits)
                return [pl.select(pl.when(on).then(pl.lit(True))).to_series()]

            def throttle_slice(key: tuple[Any, ...], s: int, e: int, p: str = p, cause: str = cause) -> Slice:
                return Slice(throttle_track(p, cause), p, f"throttle: {cause}", s, e, {"cause": cause})

            makers.append((runs, throttle_keys, throttle_slice))
        for p, runs in collapses.items():
            def collapse_keys(t: pl.DataFrame, p: str = p) -> list[pl.Series]:
                return [pl.select(pl.when(t[column(p, "collapse")] == 1).then(pl.lit(True))).to_series()]

            def collapse_slice(key: tuple[Any, ...], s: int, e: int, p: str = p) -> Slice:
                return Slice(f"{p} collapses", p, "collapse", s, e, {"device": p})

            makers.append((runs, collapse_keys, collapse_slice))
        return makers

    # -- events -----------------------------------------------------------------------
    def _within(self, ts_us: int) -> bool:
        w = self.window
        return (w.start_us is None or ts_us >= w.start_us) and (w.end_us is None or ts_us <= w.end_us)

    def events(self) -> Iterator[tuple[int, dict[str, Any]]]:
        for event in self._events:
            try:
                ts_us = self.clock.wall(us_from_iso(event["ts"]))
            except (ValueError, OverflowError):
                continue
            if self._within(ts_us):
                yield ts_us, event

    def instants(self) -> Iterator[Instant]:
        """Notes and tags on the phases track, alerts on their device's."""
        for ts_us, e in self.events():
            kind = e["kind"]
            if kind == EventKind.NOTE:
                args = {k: e[k] for k in ("source", "tags") if e.get(k) is not None}
                yield Instant(PHASES, "workload", f"note: {cut(str(e.get('text')), NOTE_CAP)}", ts_us, args)
            elif kind == EventKind.TAG:
                yield Instant(PHASES, "workload", f"tag: {_name(e.get('state'))}", ts_us, {"source": e.get("source")})
            elif kind == EventKind.ALERT:
                device = _name(e.get("device"))
                yield Instant(f"{device} alerts", device, f"alert: {_name(e.get('alert'))}", ts_us, {})

    def metric_points(self) -> Iterator[MetricPoint]:
        """The workload's own metrics (`rigscope.metric`), a counter each."""
        for ts_us, e in self.events():
            value = finite(e.get("value"))
            if e["kind"] == EventKind.METRIC and value is not None:
                yield MetricPoint(_name(e.get("name")), ts_us, value)
