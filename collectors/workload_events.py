"""The consumer of workload events: a thread that feeds spans and custom metrics from a sampler subscription.

It reads the same stream of batches as the recorder (frames in tick order,
events as they were posted), so the span tracker sees every sample and every
span event without ever running on the sampling thread.  The rows of the spans
each batch finished are told back to the stream (`tell`: the screen reads them
there, as it reads a replay's).
"""

from __future__ import annotations

from collections.abc import Callable

from collectors.consumer import ConsumerThread
from collectors.event_kinds import SPAN_KINDS, EventKind
from collectors.metrics import MetricHistory
from collectors.spans import SpanTracker
from collectors.stream import END, Batch, FrameQueue


class WorkloadEvents(ConsumerThread):
    def __init__(self, frames: FrameQueue, spans: SpanTracker, metrics: MetricHistory,
                 on_notice: Callable[[str], None] | None = None,
                 tell: Callable[[Batch], None] | None = None) -> None:
        super().__init__("rigscope-spans", frames)
        self.spans = spans
        self.metrics = metrics
        self._tell_stream = tell  # the stream's side channel (FrameStream.tell)
        self.error: str | None = None
        self._on_notice = on_notice  # told why spans stopped, once, when the thread ends

    def _run(self) -> None:
        try:
            while True:
                batch = self._frames.get(timeout=1.0)
                if batch is END:
                    break
                if batch is None or self.error is not None:
                    continue  # after a failure the queue is still drained: a lossless one must not block the sampler
                try:
                    self._take(batch)
                except OSError as error:  # the spans journal could not be written: the recording stops
                    self.error = f"spans journal not written ({error.strerror or error})"
                    self._report_failure("spans journal", error)
                except Exception as error:  # noqa: BLE001 (spans stop; sampling and recording go on)
                    self.error = f"span tracking stopped: {error}"
        finally:
            try:
                self.spans.close()
            except OSError as error:
                self.error = self.error or f"spans journal not written ({error.strerror or error})"
                self._report_failure("spans journal", error)
            if self.error and self._on_notice is not None:
                self._on_notice(self.error)

    def _take(self, batch: Batch) -> None:
        finished = []
        for event in batch.events:
            kind = event.get("kind")
            if kind == EventKind.METRIC:
                self.metrics.add_event(event)
            elif kind in SPAN_KINDS:
                finished += self.spans.add_event(event)
        if batch.frame is not None:
            finished += self.spans.add_frame(batch.frame)
        if finished and self._tell_stream is not None:
            self._tell_stream(Batch(None, spans=tuple(finished)))
