"""The session writer: the one owner of a session folder's files and of the order they close in.

Its own thread reads the frame stream and writes the samples and events (the
`Recorder` it extends).  The threads that make the session's other records hand
them over: the process tier its rows (`take_processes`, flushed each tick), the
span assembler each finished span (`take_span`, a line of `spans.journal`,
flushed at once); anyone may add a warning (`warn`) or facts (`annotate`) to
meta.json, and a failed write anywhere stops the recording (`write_failed`).

Closing, after the stream's END: the samples are flushed and compacted; then,
once every feeding thread said it is done (one deadline for all of them), the
process segments become `processes.parquet`, the spans journal `spans.parquet`
(and `spans.csv`); then `events.jsonl` closes, `meta.json` is final (with the
summary) and `report.md` is written from it.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from collectors.schema import ColumnTypes
from collectors.stream import FrameQueue
from recordings.errors import is_io_error, write_failure
from recordings.processes import ProcessJournal
from recordings.recorder import Recorder, RecorderOptions
from recordings.spans import SPANS_JOURNAL, write_span_tables

FEEDS_CLOSE_WAIT_S = 10.0  # how long closing waits, in all, for the threads that hand records over


class SessionWriter(Recorder):
    def __init__(
        self,
        session: Path,
        meta: dict[str, Any],
        columns: ColumnTypes,
        frames: FrameQueue,
        options: RecorderOptions | None = None,
        summary: Callable[[], dict[str, Any]] | None = None,
        feeds: Sequence[threading.Event] = (),
        processes: bool = False,
    ) -> None:
        """`feeds`: set by each thread that hands records over once it has handed its last;
        `processes`: the session has a process table."""
        super().__init__(session, meta, columns, frames, options, summary)
        self._feeds = list(feeds)
        self._lock = threading.Lock()  # the handed-over tables and meta.json's additions, from any thread
        self._processes = ProcessJournal(session, self.options.segment_interval_s) if processes else None
        self._spans: IO[str] | None = None  # created with the first finished span

    # -- records handed over by other threads ------------------------------
    def take_processes(self, rows: list[dict[str, Any]]) -> None:
        """One slow tick's process rows (the process tier's thread); none once the recording stopped."""
        if self._processes is not None:
            with self._lock:  # (the error is read under it: a close that let go of the files holds it)
                if self.error is None:
                    self._processes.append(rows)

    def take_span(self, row: dict[str, Any]) -> None:
        """One finished span (the span assembler's thread); none once the recording stopped: what a failed write
        leaves of the disk is for the final meta.json."""
        line = json.dumps(row, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            if self.error is not None:
                return
            if self._spans is None:
                self._spans = open(self.session / SPANS_JOURNAL, "a", encoding="utf-8")  # noqa: SIM115 (the session's)
            self._spans.write(line)
            self._spans.flush()

    def warn(self, message: str) -> None:
        """A warning of the session, in meta.json."""
        with self._lock:
            self.meta.setdefault("warnings", []).append(message)

    def annotate(self, **facts: Any) -> None:
        """Facts of the session (a controlled run's command, its error), in meta.json."""
        with self._lock:
            self.meta.update(facts)

    def write_failed(self, what: str, error: BaseException) -> None:
        """A write of `what` failed in another thread: the recording stops, `interrupted` with why."""
        self.fail(f"recording stopped: {what} not written: {write_failure(error, self.session)}")

    # -- closing -----------------------------------------------------------
    def _let_go(self) -> None:
        super()._let_go()
        with self._lock:
            if self._processes is not None:
                self._processes.let_go()
            if self._spans is not None:
                with contextlib.suppress(OSError, ValueError):
                    self._spans.close()

    def _await_feeds(self) -> None:
        """Until every feeding thread is done (what they hand over until then still goes in), once."""
        deadline = time.monotonic() + FEEDS_CLOSE_WAIT_S
        for done in self._feeds:
            done.wait(max(0.0, deadline - time.monotonic()))
        self._feeds = []

    def _close_tables(self) -> None:
        self._await_feeds()  # after the samples are flushed and compacted: a kill meanwhile loses none
        with self._lock:
            if self._processes is not None:
                self._processes.close()
            if self._spans is not None:
                self._spans.close()
                self._spans = None
        try:
            write_span_tables(self.session, csv="csv" in self.options.formats)
        except Exception as error:  # noqa: BLE001 (the journal stays, for repair)
            if is_io_error(error):  # a full disk, a folder made read-only: the session closes interrupted
                self.write_failed("spans table", error)
            else:  # something in the spans themselves: the session still closes
                self.warn(f"spans table not written ({error}); the rows are in {SPANS_JOURNAL}")

    def _write_final_meta(self) -> None:
        self._await_feeds()  # a failed recording skips the tables; its summary still waits for the spans
        super()._write_final_meta()
