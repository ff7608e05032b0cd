"""Reading a recorded session for replay: the time axis in memory, rows fetched from disk on demand.

Only `elapsed_s` and `ts` (16 bytes a row, in arrays) and the workload state are
held for the whole session;
frames are read in slices from `samples.parquet` (row groups make a slice
cheap), so a 24-hour session opens fast and memory stays flat.  Sessions that
never closed are read from their segments and journals.
"""

from __future__ import annotations

import bisect
from array import array
from pathlib import Path
from typing import Any

import polars as pl

from recordings import segments
from recordings.errors import InputError
from recordings.events import EVENTS, read_events
from recordings.reader import read_samples
from recordings.session import read_meta


_AXIS = [pl.col("elapsed_s"), pl.col("ts").dt.epoch("us"), pl.col("workload_state")]


class ReplayReader:
    def __init__(self, session: Path) -> None:
        self.session = session
        self.meta = read_meta(session)
        parquet = session / segments.SAMPLES_PARQUET
        self._table: pl.DataFrame | None = None
        if parquet.is_file():
            try:
                self._scan = pl.scan_parquet(parquet)
                axis = self._scan.select(_AXIS).collect()
            except (OSError, pl.exceptions.PolarsError) as error:
                raise InputError(f"{parquet}: unreadable Parquet file ({str(error).splitlines()[0]})") from None
        else:  # a session that never closed: segments and journals, read once
            self._table = read_samples(session)
            self._scan = self._table.lazy()
            axis = self._table.select(_AXIS)
        if axis.height == 0:
            raise InputError(f"{session.name}: the session has no samples")
        self.elapsed = array("d", axis["elapsed_s"].to_list())
        self.ts_us = array("q", axis["ts"].to_list())
        self.states: list[str | None] = axis["workload_state"].to_list()
        self.columns = self._scan.collect_schema().names()
        self.events = read_events(session / EVENTS)

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

    def rows(self, start: int, stop: int) -> list[dict[str, Any]]:
        """Rows [start, stop) as frames (ts as µs), read from disk."""
        start, stop = max(0, start), min(len(self), stop)
        if stop <= start:
            return []
        try:
            table = self._scan.slice(start, stop - start).with_columns(pl.col("ts").dt.epoch("us")).collect()
        except (OSError, pl.exceptions.PolarsError) as error:
            raise InputError(f"{self.session / segments.SAMPLES_PARQUET}: unreadable rows {start}-{stop} "
                             f"({str(error).splitlines()[0]})") from None
        return table.to_dicts()

