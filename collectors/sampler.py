"""The sampling thread: runs the collectors on a drift-free schedule, derives signals, fans frames out.

Each tick builds one frame (a wide row keyed by schema column names); the
signal pipeline derives its columns and the frame is published on the
sampler's `FrameStream` (collectors/stream.py), whose policy sizes each sink's
queue from the clock: on real time the sampler never waits on a consumer (a
full queue counts a drop).  Above 10 Hz the frames of a tenth of a second are
derived and handed out together (see `BATCH_HZ`).
Events from outside (notes, tags, probe events) are posted from any thread.
A step of the wall clock between two frames (`ts` against the monotonic
`elapsed_s`) is an event of its own, `clock_step`, handed out with the frame.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from collectors.base import Collector
from collectors.clock import Clock, RealClock, StepDetector
from collectors.event_kinds import EventKind
from collectors.stream import END, Batch, Event, Frame, FrameQueue, FrameStream, Sink, StreamPolicy
from collectors.ticker import Ticker
from collectors.timeutil import iso_from_us, us_from_iso

# The stream's END, Batch and FrameQueue are re-exported: the sampler's consumers import them from here.
__all__ = ["BATCH_HZ", "END", "Batch", "Event", "Frame", "FrameQueue", "Sampler", "SamplerStats", "SignalStage"]

# A thread woken 100 times a second finds its caches cold: deriving the signals of each frame
# right after its read cost about twice what the same work costs on ten frames in a row (4 GPUs,
# here). Above BATCH_HZ the frames of 1/BATCH_HZ s are derived and handed out together; the
# consumers look 4 times a second anyway, and each frame keeps the time of its own read.
BATCH_HZ = 10.0


class SignalStage(Protocol):
    """What the sampler needs of the signal pipeline (collectors.signals.SignalPipeline)."""

    def add_tag(self, ts_us: int, state: str) -> None: ...

    def process(self, frame: Frame) -> list[Event]: ...

    def finish(self) -> list[Event]: ...


@dataclass
class SamplerStats:
    samples: int = 0
    elapsed_s: float = 0.0
    last_lag_ms: float = 0.0
    notices: list[str] = field(default_factory=list)

    @property
    def achieved_hz(self) -> float:
        return (self.samples - 1) / self.elapsed_s if self.samples > 1 and self.elapsed_s > 0 else 0.0


class Sampler:
    def __init__(
        self,
        collectors: Sequence[Collector],
        hz: float,
        clock: Clock | None = None,
        duration_s: float | None = None,
        signals: SignalStage | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.collectors = list(collectors)
        self.hz = hz
        self.clock = clock or RealClock()
        self.ticker = Ticker(hz, self.clock, duration_s)
        self.signals = signals
        self.stats = SamplerStats()
        self._on_notice = on_notice
        self.stream = FrameStream(StreamPolicy.for_clock(self.clock, hz))
        self._batch_size = max(1, int(hz / BATCH_HZ))
        self._unsent: list[Frame] = []  # read, not derived nor handed out yet
        self._pending_tags: list[tuple[int, str]] = []
        self._steps = StepDetector()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rigscope-sampler", daemon=True)

    def subscribe(self, sink: Sink) -> FrameQueue:
        """A queue of this sampler's stream for `sink`, sized and paced by the stream's policy."""
        return self.stream.subscribe(sink)

    def attach(self, frames: FrameQueue) -> FrameQueue:
        """A queue built by hand onto the stream (tests, benchmarks)."""
        return self.stream.attach(frames)

    def post_event(self, event: Event) -> None:
        """Hand an event to every subscriber; a tag also steers the workload state. Any thread."""
        if event.get("kind") == EventKind.TAG and self.signals is not None:
            with self._lock:
                self._pending_tags.append((us_from_iso(event["ts"]), str(event["state"])))
        self.stream.publish(Batch(None, (event,)))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def run_inline(self) -> None:
        """Run in the calling thread until the duration ends or `stop` (benchmarks, tests)."""
        self._run()

    def _run(self) -> None:
        try:
            for tick in self.ticker.ticks(self._stop):
                self._sample(tick.elapsed_s, tick.lag_s)
        finally:
            self._derive_and_send()
            closing = self.signals.finish() if self.signals is not None else []
            if closing:
                self.stream.publish(Batch(None, tuple(closing)))
            self.stream.close()
            self.finished.set()

    def _sample(self, elapsed_s: float, lag_s: float) -> None:
        frame: Frame = {
            "ts": self.clock.wall_us(),
            "elapsed_s": elapsed_s,
            "sample_lag_ms": lag_s * 1000.0,
        }
        for collector in self.collectors:
            try:
                frame.update(collector.read(elapsed_s))
            except OSError as error:
                # Out of file descriptors, a vanished /proc file: this tick's readings of that source are
                # null (missing keys), the sampler goes on and says so once.
                collector.notice(f"a read failed ({error.strerror or error}); its readings are null while it fails")
            for message in collector.drain_notices():
                self._notify(message)
        stats = self.stats
        stats.samples += 1
        stats.elapsed_s = elapsed_s
        stats.last_lag_ms = frame["sample_lag_ms"]
        self._unsent.append(frame)
        if len(self._unsent) >= self._batch_size:
            self._derive_and_send()

    def _derive_and_send(self) -> None:
        frames, self._unsent = self._unsent, []
        signals = self.signals
        if signals is not None and self._pending_tags:
            with self._lock:
                tags, self._pending_tags = self._pending_tags, []
            for ts_us, state in tags:  # each applies from its own time on, earlier frames of the batch included
                signals.add_tag(ts_us, state)
        for frame in frames:
            events = signals.process(frame) if signals is not None else []
            step = self._steps.check(frame["ts"], frame["elapsed_s"])
            if step is not None:
                events = [*events, {"ts": iso_from_us(frame["ts"]), "kind": EventKind.CLOCK_STEP, "step_s": step,
                                    "elapsed_s": frame["elapsed_s"]}]
            self.stream.publish(Batch(frame, tuple(events)))

    def _notify(self, message: str) -> None:
        self.stats.notices.append(message)
        if self._on_notice is not None:
            self._on_notice(message)
