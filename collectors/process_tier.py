"""The slow tier: process rows every `interval_s` of sample time, in a thread of its own.

It reads the sampler's stream like any other consumer (the sampler only offers
frames to its queue, so it never waits on this tier) and, on the first frame
at or after each due time, asks its reader for the process rows, stamped with
that frame's ``ts``: the rows line up with the samples.  The latest rows are
kept as an immutable `ProcessSnapshot`, told to the stream (`tell`: the screen
reads it there, as it reads a replay's) and handed to the recorder's sink.  A failing reader is told once; sampling goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from collectors.consumer import ConsumerThread
from collectors.notices import fold_by_gpu
from collectors.process_rows import ProcessSnapshot, Row
from collectors.stream import END, Batch, FrameQueue

RowReader = Callable[[int, dict[str, Any]], list[Row]]  # (ts µs, frame) -> rows


EMPTY = ProcessSnapshot(0, None, ())


class ProcessTier(ConsumerThread):
    def __init__(self, frames: FrameQueue, reader: RowReader, interval_s: float,
                 on_notice: Callable[[str], None] | None = None,
                 notices: Callable[[], list[str]] = list,
                 tell: Callable[[Batch], None] | None = None) -> None:
        super().__init__("rigscope-processes", frames)
        self._tell_stream = tell  # the stream's side channel (FrameStream.tell)
        self._reader = reader
        self._notices = notices  # the reader's own notices (a GPU without per-process utilization)
        self.interval_s = interval_s
        self._on_notice = on_notice
        self.sink: Callable[[list[Row]], None] | None = None  # the recorder's journal, when recording
        self.latest = EMPTY
        self.ticks = 0
        self._failed: set[str] = set()

    def _run(self) -> None:
        due: float | None = None
        while True:
            batch = self._frames.get(timeout=1.0)
            if batch is END:
                break
            frame = batch.frame if batch is not None else None
            if frame is None or (due is not None and frame["elapsed_s"] < due):
                continue
            due = frame["elapsed_s"] + self.interval_s if due is None else due + self.interval_s
            if due <= frame["elapsed_s"]:  # frames were dropped (a busy machine): count from this one
                due = frame["elapsed_s"] + self.interval_s
            self.tick(frame)

    def tick(self, frame: dict[str, Any]) -> None:
        """One slow tick for `frame` (the thread's work; tests and benchmarks call it directly)."""
        try:
            rows = self._reader(frame["ts"], frame)
        except Exception as error:  # noqa: BLE001 (no process list this tick; the samples go on)
            self._tell(f"process list failed ({type(error).__name__}: {error})")
            return
        for message in fold_by_gpu(self._notices()):  # a driver without per-process utilization: once for every GPU
            if self._on_notice is not None:
                self._on_notice(message)
        self.ticks += 1
        self.latest = ProcessSnapshot(self.latest.version + 1, frame["ts"], tuple(rows))
        if self._tell_stream is not None:
            self._tell_stream(Batch(None, processes=self.latest))
        if self.sink is not None:
            try:
                self.sink(rows)
            except Exception as error:  # noqa: BLE001 (any write error, a polars one on a full disk too)
                self.sink = None
                self._report_failure("process rows", error)

    def _tell(self, message: str) -> None:
        if message not in self._failed and self._on_notice is not None:
            self._failed.add(message)
            self._on_notice(f"processes: {message}")
