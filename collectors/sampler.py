"""The sampling thread: runs the collectors on a drift-free schedule, derives signals, fans frames out.

Each tick builds one frame (a wide row keyed by schema column names); the
signal pipeline derives its columns and the frame is published on the
sampler's `FrameStream` (collectors/stream.py), whose policy sizes each sink's
queue from the clock: on real time the sampler never waits on a consumer (a
full queue counts a drop).  Above 10 Hz the frames of a tenth of a second are
derived and handed out together (see `BATCH_HZ`).
Events from outside (notes, tags, probe events) are posted from any thread;
those of a burst go out together (see `EVENT_BATCH_S`), and what a sink's
queue still drops is said as a notice and counted (`FrameStream.drops`).
A step of the wall clock between two frames (`ts` against the monotonic
`elapsed_s`) is an event of its own, `clock_step`, handed out with the frame.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from collectors.base import Collector
from collectors.clock import Clock, RealClock, StepDetector
from collectors.event_kinds import EventKind
from collectors.notices import fold_by_gpu
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

# A probe may post up to the event receiver's limit (20,000 events a second); a batch for each would
# fill the queues read 4 times a second in a fifth of a second (1,000 batches). An event posted after a
# quiet EVENT_BATCH_S goes out at once; those that follow it within EVENT_BATCH_S wait for the next
# post after it, or the next frames, whichever comes first: at most 1/EVENT_BATCH_S batches of events
# a second (plus one per batch of frames), whatever the rate. Each event keeps its own time.
EVENT_BATCH_S = 0.01


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
        self._pending_events: list[Event] = []  # posted, not handed out yet (under _events_lock)
        self._events_sent = -EVENT_BATCH_S  # time.monotonic() of the last batch of events handed out
        self._events_at_once = False  # the sampler ended: nothing would hand pending events out
        self._events_lock = threading.Lock()  # held while handing events out: one thread's events stay in order
        self._drops_said: set[str] = set()  # the sinks whose queue's drops were said
        self._steps = StepDetector()
        # Called in the sampler's thread once its ticks end (duration or stop), before the stream's end:
        # whoever feeds events in stops there, so none is taken that nothing would record.
        self.on_end: Callable[[], None] | None = None
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
        """Hand an event to every subscriber (with those of its burst); a tag also steers the workload state.
        Any thread."""
        if event.get("kind") == EventKind.TAG and self.signals is not None:
            with self._lock:
                self._pending_tags.append((us_from_iso(event["ts"]), str(event["state"])))
        now = time.monotonic()
        with self._events_lock:
            self._pending_events.append(event)
            if now - self._events_sent >= EVENT_BATCH_S or self._events_at_once:
                self._send_events(now)

    def _send_events(self, now: float) -> None:
        """The events posted so far, as one batch (under _events_lock)."""
        if self._pending_events:
            events, self._pending_events = self._pending_events, []
            self._events_sent = now
            self.stream.publish(Batch(None, tuple(events)))

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
            if self.on_end is not None:
                self.on_end()
            self._derive_and_send()
            closing = self.signals.finish() if self.signals is not None else []
            with self._events_lock:  # from now on an event is handed out as it comes (after END, as before)
                self._send_events(time.monotonic())
                self._events_at_once = True
            if closing:
                self.stream.publish(Batch(None, tuple(closing)))
            self._say_drops(final=True)  # before END: the session writer still takes it into meta.json
            self.stream.close()
            self.finished.set()

    def _sample(self, elapsed_s: float, lag_s: float) -> None:
        frame: Frame = {
            "ts": self.clock.wall_us(),
            "elapsed_s": elapsed_s,
            "sample_lag_ms": lag_s * 1000.0,
        }
        notices: list[str] = []
        for collector in self.collectors:
            try:
                frame.update(collector.read(elapsed_s))
            except OSError as error:
                # Out of file descriptors, a vanished /proc file: this tick's readings of that source are
                # null (missing keys), the sampler goes on and says so once.
                collector.notice(f"a read failed ({error.strerror or error}); its readings are null while it fails")
            notices += collector.drain_notices()
        if notices:
            for message in fold_by_gpu(notices):
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
        with self._events_lock:  # those posted before these frames were handed out go first, as they came
            self._send_events(time.monotonic())
        for frame in frames:
            events = signals.process(frame) if signals is not None else []
            step = self._steps.check(frame["ts"], frame["elapsed_s"])
            if step is not None:
                events = [*events, {"ts": iso_from_us(frame["ts"]), "kind": EventKind.CLOCK_STEP, "step_s": step,
                                    "elapsed_s": frame["elapsed_s"]}]
            self.stream.publish(Batch(frame, tuple(events)))
        self._say_drops(final=False)

    def _say_drops(self, final: bool) -> None:
        """A notice the first time a sink's queue drops, and the totals at the end (meta.json's warnings)."""
        for name, lost in self.stream.drops().items():
            if lost["batches"] and (final or name not in self._drops_said):
                self._drops_said.add(name)
                when = "in all" if final else "so far (it fell behind); summary.stream_drops in meta.json counts them"
                self._notify(f"{name}: its queue dropped {lost['batches']:,} batches "
                             f"({lost['events']:,} events) {when}")

    def _notify(self, message: str) -> None:
        self.stats.notices.append(message)
        if self._on_notice is not None:
            self._on_notice(message)
