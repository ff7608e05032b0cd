"""Reading a recorded session for replay: the time axis in memory, rows fetched from disk on demand.

Only `elapsed_s` and `ts` (16 bytes a row, in arrays) and the workload state are
held for the whole session; frames are read in slices from `samples.parquet`
(row groups make a slice cheap), so a 24-hour session opens fast and memory
stays flat.  Sessions that never closed are read from their segments and
journals; while their recorder still runs, `refresh()` adds the segments that
landed since and the rows flushed to the open journal (a directory listing and
a stat when nothing changed).
"""

from __future__ import annotations

import bisect
import re
import time
from array import array
from pathlib import Path
from typing import Any

import polars as pl

from collectors.timeutil import iso_from_us, parse_duration, us_from_iso
from recordings import segments
from recordings.errors import InputError
from recordings.events import EVENTS, read_events_counted
from recordings.frames import finite_or_null
from recordings.reader import checked_samples, session_columns_of
from recordings.safe_files import is_regular
from recordings.session import read_meta, session_status

_AXIS = ("elapsed_s", "ts", "workload_state")
GOTO_FORMS = "HH:MM:SS (UTC), +5m or -30s from the position, or 15m / 90 from the start"


class ReplayReader:
    def __init__(self, session: Path) -> None:
        self.session = session
        self.meta = read_meta(session)
        self.growing = False
        self._landed: dict[Path, pl.DataFrame] = {}  # Parquet parts read so far (they never change)
        self._signature: list[tuple[Path, int]] = []
        self.journal_warnings: list[str] = []  # the journals' skipped lines, as of their last reading
        if is_regular(session / segments.SAMPLES_PARQUET):
            self._open_parquet()
        else:  # a session that never closed, or is still recording: its segments and journals
            self._read_segments(segments.segment_files(session))
            self.growing = session_status(self.meta, session) == "recording"
        if len(self) == 0:
            raise InputError(f"{session.name}: the session has no samples")
        self._events_size = _size(session / EVENTS)
        self._events_next = 0.0  # time.monotonic() before which events.jsonl is not read again
        events, self.skipped_events = read_events_counted(session / EVENTS)
        # In time order, with their times (µs): steps, seeks and the timeline bisect them.
        self.events, self.event_us = _in_time_order(events)

    def _open_parquet(self) -> None:
        parquet = self.session / segments.SAMPLES_PARQUET
        try:
            scan = checked_samples(pl.scan_parquet(parquet, glob=False), parquet)
            names = scan.collect_schema().names()
            axis, own_elapsed = _axis(scan, names, parquet)
        except (OSError, pl.exceptions.PolarsError) as error:
            raise InputError(f"{parquet}: unreadable Parquet file ({str(error).splitlines()[0]})") from None
        self._scan, self.columns = _with_elapsed(scan, own_elapsed, axis), names
        self._set_axis(axis)

    def _read_segments(self, listing: list[Path]) -> None:
        columns = session_columns_of(self.meta)
        tables = []
        warnings: list[str] = []
        for path in listing:  # a landed part never changes: read once; the open journal grows: read again
            part = self._landed.get(path)
            if part is None:
                part = segments.read_segment(path, columns, warnings)
                if path.suffix == ".parquet":
                    self._landed[path] = part
            tables.append(part)
        table = segments.read_segments(self.session, columns, files=tables)
        axis, own_elapsed = _axis(table.lazy(), table.columns, self.session)
        self._scan, self.columns = _with_elapsed(table.lazy(), own_elapsed, axis), table.columns
        self._signature = _signature(listing)
        self.journal_warnings = warnings
        self._set_axis(axis)

    def _set_axis(self, axis: pl.DataFrame) -> None:
        # states and ts first: the UI reads them at indexes it takes from `elapsed`, which grows last.
        # Both times as running maxima: a wall clock stepped back (NTP) or a foreign file's disorder holds the
        # axis still instead of breaking the bisections (an event would be found, and played, twice).
        self.states: list[str | None] = axis["workload_state"].to_list()
        self.ts_us = array("q", axis["ts"].cum_max().to_list())
        self.elapsed = array("d", axis["elapsed_s"].cum_max().to_list())

    def refresh(self) -> bool:
        """A session still recording: take in the segments that landed since; True when rows were added."""
        if not self.growing:
            return False
        if (self.session / segments.SAMPLES_PARQUET).is_file():  # its recorder closed it meanwhile
            before = len(self)
            self._open_parquet()
            self.growing = False
            return len(self) != before
        listing = segments.segment_files(self.session)
        if _signature(listing) == self._signature:
            self.growing = session_status(read_meta(self.session), self.session) == "recording"
            return False
        before = len(self)
        try:
            self._read_segments(listing)
        except FileNotFoundError:  # a journal became its Parquet part while being read: next time
            return False
        return len(self) != before

    def new_events(self) -> tuple[list[dict[str, Any]], list[int]] | None:
        """A session still recording: its events again, in time order with their times, when events.jsonl
        changed since it was read (a cut last line is left for the next reading); None when it did not."""
        size = _size(self.session / EVENTS)
        if size == self._events_size or time.monotonic() < self._events_next:
            return None
        started = time.monotonic()
        self._events_size = size
        events = _in_time_order(read_events_counted(self.session / EVENTS)[0])
        # read whole again (a day of metrics at 10 Hz: 0.3 s); at most a tenth of the time
        self._events_next = time.monotonic() + 9 * (time.monotonic() - started)
        return events

    def __len__(self) -> int:
        return len(self.elapsed)

    @property
    def duration_s(self) -> float:
        return self.elapsed[-1] - self.elapsed[0]

    def index_at(self, elapsed_s: float) -> int:
        """The last row at or before `elapsed_s` (the first row for earlier times).

        A nanosecond of slack: 0.1 + 10 must find the row stored as 10.100000000000001.
        """
        return max(0, bisect.bisect_right(self.elapsed, elapsed_s + 1e-9) - 1)

    def index_at_ts(self, ts_us: int) -> int:
        return max(0, bisect.bisect_right(self.ts_us, ts_us) - 1)

    def index_from_ts(self, ts_us: int) -> int:
        """The first row at or after `ts_us` (the last row for later times): where an event shows."""
        return min(len(self) - 1, bisect.bisect_left(self.ts_us, ts_us))

    def goto(self, text: str, position: int) -> tuple[int, bool]:
        """The row `text` names, read from row `position` (see `parse_goto`), and whether it lay past the
        end (then it is the last row); ValueError when `text` is not a time."""
        kind, value = parse_goto(text, self.elapsed[position] - self.elapsed[0], iso_from_us(self.ts_us[position]))
        if kind == "ts":
            return self.index_at_ts(int(value)), value > self.ts_us[-1]
        return self.index_at(self.elapsed[0] + min(value, self.duration_s)), value > self.duration_s

    def add_event(self, event: dict[str, Any]) -> None:
        """An event written to the session while it is replayed, in its place in time."""
        us = _event_us(event)
        at = bisect.bisect_right(self.event_us, us)
        self.event_us.insert(at, us)
        self.events.insert(at, event)

    def events_between(self, low_us: int | None, high_us: int) -> list[dict[str, Any]]:
        """The events with low_us < ts <= high_us (from the start when low_us is None), in time order."""
        first = 0 if low_us is None else bisect.bisect_right(self.event_us, low_us)
        return self.events[first:bisect.bisect_right(self.event_us, high_us)]

    def rows(self, start: int, stop: int) -> list[dict[str, Any]]:
        """Rows [start, stop) as frames (ts as µs), read from disk."""
        start, stop = max(0, start), min(len(self), stop)
        if stop <= start:
            return []
        try:
            table = self._scan.slice(start, stop - start).with_columns(pl.col("ts").dt.epoch("us")).collect()
            table = finite_or_null(table)  # NaN and inf are no reading: shown as missing (eager: 1 ms, lazy: 5)
        except (OSError, pl.exceptions.PolarsError) as error:
            raise InputError(f"{self.session / segments.SAMPLES_PARQUET}: unreadable rows {start}-{stop} "
                             f"({str(error).splitlines()[0]})") from None
        return table.to_dicts()


def parse_goto(text: str, current_s: float, now_iso: str) -> tuple[str, float]:
    """`+15m` / `-30s` from the position, `HH:MM[:SS]` (UTC, on the position's day), or seconds from the start.

    Returns ("offset", seconds from the session start) or ("ts", µs since the epoch).
    """
    value = text.strip()
    try:
        if value[:1] in "+-":
            step = parse_duration(value[1:])
            return "offset", max(0.0, current_s + (step if value[0] == "+" else -step))
        if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?", value):
            clock = value if value.count(":") == 2 else value + ":00"
            return "ts", float(us_from_iso(f"{now_iso[:10]}T{clock.zfill(8)}Z"))
        return "offset", parse_duration(value)
    except ValueError:
        raise ValueError(f"'{text}' is not a time: {GOTO_FORMS}") from None


def _in_time_order(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[int]]:
    stamped = sorted(((_event_us(e), e) for e in events), key=lambda pair: pair[0])  # stable
    return [event for _, event in stamped], [us for us, _ in stamped]


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _event_us(event: dict[str, Any]) -> int:
    try:
        return us_from_iso(event["ts"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return 0


def _signature(listing: list[Path]) -> list[tuple[Path, int]]:
    """What changes when rows arrive: the landed parts, and the size of the open journal."""
    try:
        return [(path, path.stat().st_size if path.suffix == ".journal" else 0) for path in listing]
    except FileNotFoundError:  # a journal that just became its Parquet part: look again next time
        return []


def _axis_of(names: list[str]) -> list[pl.Expr]:
    """elapsed_s, ts (µs) and the workload state, for sessions that lack some (imported ones may).

    Without `elapsed_s` the time since the first `ts` stands in; without derived columns there is no state.
    """
    if "ts" not in names:
        raise InputError("the samples have no ts column")
    ts = pl.col("ts").dt.epoch("us")
    elapsed = pl.col("elapsed_s") if "elapsed_s" in names else (ts - ts.first()) / 1e6
    state = pl.col("workload_state") if "workload_state" in names else pl.lit(None, dtype=pl.String)
    return [elapsed.alias("elapsed_s"), ts.alias("ts"), state.alias("workload_state")]


def _axis(scan: pl.LazyFrame, names: list[str], source: Path) -> tuple[pl.DataFrame, bool]:
    """The time axis, and whether it is the samples' own `elapsed_s`; InputError when a row has no `ts`.

    An `elapsed_s` with gaps (null, NaN, inf) is replaced by the time since the first `ts`."""
    axis = scan.select(_axis_of(names)).collect()
    nulls = axis["ts"].is_null()
    if nulls.any():
        raise InputError(f"{source}: sample row {int(nulls.arg_true()[0]) + 1} has no ts")
    if "elapsed_s" in names and axis["elapsed_s"].cast(pl.Float64).is_finite().fill_null(False).all():
        return axis, True
    return scan.select(_axis_of([n for n in names if n != "elapsed_s"])).collect(), False


def _with_elapsed(scan: pl.LazyFrame, own_elapsed: bool, axis: pl.DataFrame) -> pl.LazyFrame:
    """The rows as frames carry `elapsed_s` even where the file has none or it has gaps (the axis's, from
    the first ts)."""
    if own_elapsed or axis.height == 0:
        return scan
    first_us = axis["ts"][0]
    return scan.with_columns(elapsed_s=(pl.col("ts").dt.epoch("us") - first_us) / 1e6)


def check_session(session: Path) -> str | None:
    """Why the session cannot be replayed, found cheaply (the Parquet footer, the segment listing); None if it can."""
    parquet = session / segments.SAMPLES_PARQUET
    try:
        if is_regular(parquet):
            try:
                rows = pl.scan_parquet(parquet, glob=False).select(pl.len()).collect().item()  # the footer's count
            except (OSError, pl.exceptions.PolarsError) as error:
                return f"unreadable Parquet file ({str(error).splitlines()[0]})"
            return None if rows else "the session has no samples"
        return None if segments.segment_files(session) else "the session has no samples"
    except InputError as error:
        return str(error)
