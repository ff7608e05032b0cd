"""The session's process table: `processes/part-NNNNNN.journal` while recording, `processes.parquet` at close.

One row per process per slow tick (`collectors.processes.PROCESS_COLUMNS`),
with the ``ts`` of the sample it was taken at.  Rows are appended to the open
segment's journal and flushed every tick, so a crash loses at most the tick
being written; every `segment_interval_s` the journal lands as a Parquet part,
and at close (or `rigscope repair`) the parts are compacted, as the samples are.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
from pathlib import Path
from typing import IO

import polars as pl

from collectors.process_rows import PROCESS_COLUMNS, Row
from recordings import segments
from recordings.frames import conform, finite_or_null, polars_schema
from recordings.journal_row import object_line
from recordings.safe_files import is_regular

PROCESSES_DIR = "processes"
PROCESSES_PARQUET = "processes.parquet"


class ProcessJournal:
    """Writes process rows into the session's segments (called from the process tier's thread)."""

    def __init__(self, session: Path, segment_interval_s: float = 60.0) -> None:
        self.session = session
        self.segment_interval_us = int(segment_interval_s * 1e6)
        self.rows = 0
        self._segment = 0
        self._segment_start: int | None = None
        self._handle: IO[str] | None = None
        (session / PROCESSES_DIR).mkdir(exist_ok=True)

    def append(self, rows: list[Row]) -> None:
        if not rows:
            return
        ts = rows[0]["ts"]
        if self._handle is None or self._segment_start is None or ts - self._segment_start >= self.segment_interval_us:
            self._roll(ts)
        assert self._handle is not None
        self._handle.write("".join(map(object_line, rows)))
        self._handle.flush()
        self.rows += len(rows)

    def _path(self) -> Path:
        return segments.part_path(self.session, self._segment, "journal", PROCESSES_DIR)

    def _roll(self, ts: int) -> None:
        self._land()
        self._segment += 1
        self._segment_start = ts
        self._handle = open(self._path(), "w", encoding="utf-8")

    def _land(self) -> None:
        if self._handle is None:
            return
        self._handle.close()
        self._handle = None
        journal = self._path()
        segments.write_parquet_atomic(segments.read_journal(journal, PROCESS_COLUMNS), journal.with_suffix(".parquet"))
        journal.unlink()

    def let_go(self) -> None:
        """Close the open journal as it is (a failed write stopped the recording): what its buffer holds is dropped."""
        if self._handle is not None:
            with contextlib.suppress(OSError, ValueError):
                self._handle.close()

    def close(self) -> int:
        """Land the open segment and compact everything into processes.parquet; the row count."""
        self._land()
        return compact_processes(self.session)


def compact_processes(session: Path, warnings: list[str] | None = None) -> int:
    """processes.parquet from the segments of a closing (or repaired) session; 0 when it has none.
    `warnings` takes the journals' skipped lines (see `segments.read_journal`)."""
    if not (session / PROCESSES_DIR).is_dir():
        return 0
    return segments.compact(session, PROCESS_COLUMNS, PROCESSES_DIR, PROCESSES_PARQUET, warnings=warnings)


def read_processes(session: Path) -> pl.DataFrame:
    """Every process row of the session: processes.parquet, else the segments of a running or crashed one."""
    target = session / PROCESSES_PARQUET
    if is_regular(target):  # known columns in their types; NaN and inf are no measurement
        table = conform(segments.read_parquet(target), polars_schema(PROCESS_COLUMNS), target)
    else:
        table = segments.read_segments(session, PROCESS_COLUMNS, PROCESSES_DIR)
    return finite_or_null(table)


class ProcessTimeline:
    """A session's process rows by tick, for replay: the rows of the last tick at or before a time.

    The table stays in columns; only the tick shown becomes dicts (a day at 2 s is 43,200 ticks)."""

    def __init__(self, table: pl.DataFrame) -> None:
        self._table = (table.filter(pl.col("ts").is_not_null()).with_columns(pl.col("ts").dt.epoch("us").alias("ts"))
                       .sort("ts", maintain_order=True))
        per_tick = self._table.group_by("ts", maintain_order=True).len()
        self.ticks: list[int] = per_tick.get_column("ts").to_list()
        counts = per_tick.get_column("len").to_list()
        self._starts = [0, *itertools.accumulate(counts)]

    def tick_at(self, ts_us: int) -> int | None:
        """The number of the last tick at or before `ts_us`; None before the first."""
        index = bisect.bisect_right(self.ticks, ts_us) - 1
        return None if index < 0 else index

    def rows_of(self, tick: int) -> list[Row]:
        start = self._starts[tick]
        return self._table.slice(start, self._starts[tick + 1] - start).to_dicts()
