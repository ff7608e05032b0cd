"""The recorder sink: writes a session's frames and events to disk in its own thread.

Rows go to the open segment's journal, flushed every `flush_interval_s`, so a
`kill -9` loses at most that much.  Every `segment_interval_s` of sample time
the journal becomes a Parquet part (temp name, renamed).  Events are flushed
one by one.  At the end everything is compacted into `samples.parquet`,
`meta.json` is rewritten with the summary, and `report.md` is written from it.
Any error while writing (a full disk, whether OSError or a polars error) stops
the recording: `error` says why in one line, the thread stops taking frames
(its queue drops them, so the sampler never waits on it), and the session
closes `interrupted` with the reason in meta.json; what was flushed stays
readable, and meta.json's count and summary are of it.  The session writer
(recordings/session_writer.py) extends it with the session's other tables and
the threads that hand it their records.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import polars as pl

from collectors.schema import ColumnTypes
from collectors.stream import END, FrameQueue
from collectors.timeutil import iso_from_us
from recordings import segments
from recordings.errors import ALMOST_FULL_BYTES, InputError, write_failure
from recordings.events import EVENTS, EventLog, read_events
from recordings.frames import csv_cells, csv_header
from recordings.journal_row import RowEncoder
from recordings.session import META, row_group_rows, write_json_atomic
from recordings.streamed_summary import session_summary

SAMPLES_CSV = "samples.csv"
# Room kept on the session's disk from the start, given back when a write fails, so that a full disk
# still takes the final meta.json that says why the recording stopped.
RESERVE = ".reserve"
RESERVE_BYTES = 256 * 1024


def _remove_unstarted(session: Path) -> None:
    """What a recording that could not start made of its session: meta.json, the samples folder, the folder."""
    with contextlib.suppress(OSError):
        (session / META).unlink(missing_ok=True)
    for folder in (session / segments.SAMPLES_DIR, session):
        with contextlib.suppress(OSError):
            folder.rmdir()


@dataclass
class RecorderOptions:
    formats: frozenset[str] = frozenset({"parquet"})  # "parquet", "csv"
    realtime: bool = False  # flush the CSV every sample
    flush_interval_s: float = 1.0
    segment_interval_s: float = 60.0


class Recorder:
    def __init__(
        self,
        session: Path,
        meta: dict[str, Any],
        columns: ColumnTypes,
        source: FrameQueue,
        options: RecorderOptions | None = None,
        summary: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.session = session
        self.meta = meta
        self.columns = {name: kind for name, kind in columns.items()}
        self._rows = RowEncoder(self.columns)
        self.options = options or RecorderOptions()
        self._source = source
        self._summary = summary
        self.samples = 0
        self.bytes_written = 0
        self.last_flush_wall: float | None = None
        self.error: str | None = None
        self.first_ts: int | None = None
        self.last_ts: int | None = None
        self._segment = 0
        self._segment_start: float | None = None
        self._journal: IO[str] | None = None
        self._csv_handle: IO[str] | None = None
        self._csv: Any = None
        self._list_lengths: dict[str, int] = {}
        self._last_flush = time.monotonic()
        self.meta["columns"] = self.columns
        try:
            if shutil.disk_usage(session).free < ALMOST_FULL_BYTES:  # not even room for the final meta.json
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(session))
            (session / segments.SAMPLES_DIR).mkdir(exist_ok=True)
            write_json_atomic(session / META, self.meta)
            self.events = EventLog(session / EVENTS)
        except OSError as error:  # a full disk from the start: no session, and no empty folder left behind
            _remove_unstarted(session)
            raise InputError(f"cannot record in {session.parent}: {write_failure(error, session.parent)}") from None
        self._reserve_room()
        self._thread = threading.Thread(target=self._run, name="rigscope-recorder", daemon=True)
        self.closed = threading.Event()

    def _reserve_room(self) -> None:
        """Take RESERVE_BYTES, or half the room left when that is less (written, not sparse: the blocks are really
        taken), so that even a disk nearly full from the start takes the final meta.json."""
        path = self.session / RESERVE
        try:
            size = min(RESERVE_BYTES, shutil.disk_usage(self.session).free // 2)
            with open(path, "wb") as reserve:
                reserve.write(bytes(size))
        except OSError:
            path.unlink(missing_ok=True)

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def fail(self, reason: str) -> None:
        """Stop the recording from another writer's thread: the session closes `interrupted` with `reason`."""
        if self.error is None:
            self.error = reason

    def _run(self) -> None:
        try:
            while self.error is None:
                next_flush = self._last_flush + self.options.flush_interval_s
                batch = self._source.get(timeout=max(0.0, next_flush - time.monotonic()))
                if batch is END:
                    break
                self._record(batch)
                if time.monotonic() >= next_flush:
                    # A polled queue may still hold batches sampled before now: they go into this flush,
                    # so a kill -9 still loses at most one flush interval.
                    if not self._record_pending():
                        break  # END: closing flushes
                    if self.error is None:
                        self._guard(self.flush)
        finally:
            self._source.abandon()  # from here on the sampler drops this consumer's batches
            try:
                self._close()
            finally:
                self.closed.set()

    def _record(self, batch: Any) -> None:
        if batch is not None and self.error is None:
            self._guard(self._take, batch)

    def _record_pending(self) -> bool:
        """Take every batch already queued; False when END came."""
        while (batch := self._source.get(timeout=0)) is not None:
            if batch is END:
                return False
            self._record(batch)
        return True

    def _guard(self, action: Callable[..., None], *args: Any) -> None:
        try:
            action(*args)
        except Exception as error:  # noqa: BLE001 (any writer error stops the recording, loudly)
            where = getattr(error, "filename", None) or self.session
            self.fail(f"recording stopped: {write_failure(error, self.session)} in {where}")

    # -- writing -----------------------------------------------------------
    def _take(self, batch: Any) -> None:
        for event in batch.events:
            self.events.append(event)
        frame = batch.frame
        if frame is None:
            return
        if self._journal is None or self._segment_due(frame["elapsed_s"]):
            self._roll_segment(frame["elapsed_s"])
        line = self._rows.line(frame)
        assert self._journal is not None
        self._journal.write(line)
        self.bytes_written += len(line)
        if "csv" in self.options.formats:
            self._write_csv(frame)
        self.samples += 1
        self.first_ts = self.first_ts if self.first_ts is not None else frame["ts"]
        self.last_ts = frame["ts"]

    def _segment_due(self, elapsed_s: float) -> bool:
        return self._segment_start is not None and elapsed_s - self._segment_start >= self.options.segment_interval_s

    def _roll_segment(self, elapsed_s: float) -> None:
        self._land_segment()
        self._segment += 1
        self._segment_start = elapsed_s
        self._journal = open(segments.part_path(self.session, self._segment, "journal"), "w", encoding="utf-8")

    def _land_segment(self) -> None:
        if self._journal is None:
            return
        self._journal.close()
        self._journal = None
        journal = segments.part_path(self.session, self._segment, "journal")
        table = segments.read_journal(journal, self.columns)
        segments.write_parquet_atomic(table, journal.with_suffix(".parquet"))
        journal.unlink()

    def _write_csv(self, frame: dict[str, Any]) -> None:
        if self._csv is None:
            self._list_lengths = {name: len(frame.get(name) or ())
                                  for name, kind in self.columns.items() if kind == "list_f32"}
            self._csv_handle = open(self.session / SAMPLES_CSV, "w", encoding="utf-8", newline="")
            self._csv = csv.writer(self._csv_handle)
            self._csv.writerow(csv_header(self.columns, self._list_lengths))
        self._csv.writerow(list(csv_cells(frame, self.columns, self._list_lengths)))
        if self.options.realtime:
            assert self._csv_handle is not None
            self._csv_handle.flush()

    def flush(self) -> None:
        for handle in (self._journal, self._csv_handle):
            if handle is not None:
                handle.flush()
                if os.fstat(handle.fileno()).st_nlink == 0:  # it, or the session folder, was deleted: rows go nowhere
                    raise FileNotFoundError(errno.ENOENT, "removed while recording", handle.name)
        self._last_flush = time.monotonic()
        self.last_flush_wall = time.time()

    # -- closing -----------------------------------------------------------
    def _close(self) -> None:
        for closing in (self._close_files, self._compact, self._close_tables):
            if self.error is None:
                self._guard(closing)
        if self.error is not None:
            self._guard(self.flush)  # what was taken before the failure, as far as the disk still takes it
            self._let_go()
        self._guard(self.events.close)
        self._guard(lambda: (self.session / RESERVE).unlink(missing_ok=True))  # a folder made read-only refuses
        self._guard(self._write_final_meta)
        if self.error is None:
            self._write_report()

    def _close_files(self) -> None:
        self.flush()
        if self._csv_handle is not None:
            self._csv_handle.close()
        self._land_segment()

    def _let_go(self) -> None:
        """After a failure, close the open files: what the disk refused is dropped now, not written at exit into the
        room given back for meta.json (and after meta.json counted the samples)."""
        for handle in (self._journal, self._csv_handle):
            if handle is not None:
                with contextlib.suppress(OSError, ValueError):
                    handle.close()

    def _close_tables(self) -> None:
        """The session's other tables, after the samples are compacted and before meta.json is final."""

    def _compact(self) -> None:
        try:
            self.samples = segments.compact(self.session, self.columns, row_group_rows=row_group_rows(self.meta))
        except InputError as error:
            self.error = str(error)

    def _write_report(self) -> None:
        """report.md from the final meta.json; a failure is noted in meta.json and the session stays complete."""
        from recordings.report import write_session_report

        try:
            write_session_report(self.session)
        except (InputError, OSError) as error:
            self._note_no_report(str(error))
        except Exception as error:  # noqa: BLE001 (the samples and meta.json are final: a report that fails is said, not fatal)
            self._note_no_report(f"{type(error).__name__}: {error}; `rigscope repair` writes it once fixed")

    def _note_no_report(self, why: str) -> None:
        self.meta.setdefault("warnings", []).append(f"report.md not written: {why}")
        self._guard(lambda: write_json_atomic(self.session / META, self.meta))

    def _summary_on_disk(self) -> dict[str, Any] | None:
        """After a failed write, before the samples were compacted: the summary of the samples readers find (not of
        those taken, some of which the disk lost), as repair would write it; their count and last time too.  None
        when the segments cannot be read (the live summary stands; repair recomputes it)."""
        try:
            table = segments.read_segments(self.session, self.columns)
            summary = session_summary(self.session, table.lazy(), read_events(self.session / EVENTS, warn=False))
        except (InputError, OSError, pl.exceptions.PolarsError):
            return None
        self.samples = table.height
        self.last_ts = table.select(pl.col("ts").dt.epoch("us").max()).item()
        return summary

    def _write_final_meta(self) -> None:
        on_disk = None
        if self.error is not None and not (self.session / segments.SAMPLES_PARQUET).exists():
            on_disk = self._summary_on_disk()
        meta = self.meta
        meta["status"] = "complete" if self.error is None else "interrupted"
        if self.error:
            meta["error"] = self.error
        if self.last_ts is not None:
            meta["session_end"] = iso_from_us(self.last_ts)
        meta["total_samples"] = self.samples
        if self._summary is not None:
            meta["summary"] = self._summary()
        if on_disk is not None:  # the live summary's other keys (event receiver, stream drops) stand
            meta["summary"] = {**(meta.get("summary") or {}), **on_disk}
        write_json_atomic(self.session / META, meta)
