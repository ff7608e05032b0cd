"""The sampling thread: runs the collectors on a drift-free schedule, derives signals, fans frames out.

Each tick builds one frame (a wide row keyed by schema column names); the
signal pipeline derives its columns and the frame is offered to every
subscriber's bounded queue.  Above 10 Hz the frames of a tenth of a second are
derived and handed out together (see `BATCH_HZ`).  The sampler never waits on
a consumer: a full queue counts a drop instead.
Events from outside (notes, tags, probe events) are posted from any thread.
A step of the wall clock between two frames (`ts` against the monotonic
`elapsed_s`) is an event of its own, `clock_step`, handed out with the frame.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from collectors.base import Collector
from collectors.clock import Clock, RealClock, StepDetector, wait_real
from collectors.event_kinds import EventKind
from collectors.ticker import Ticker
from collectors.timeutil import iso_from_us, us_from_iso

Frame = dict[str, Any]
Event = dict[str, Any]

# A thread woken 100 times a second finds its caches cold: deriving the signals of each frame
# right after its read cost about twice what the same work costs on ten frames in a row (4 GPUs,
# here). Above BATCH_HZ the frames of 1/BATCH_HZ s are derived and handed out together; the
# consumers look 4 times a second anyway, and each frame keeps the time of its own read.
BATCH_HZ = 10.0


@dataclass(frozen=True)
class Batch:
    """What a subscriber receives: a frame (None for events alone) and the events that came with it."""

    frame: Frame | None
    events: tuple[Event, ...] = ()


END = Batch(None, ())  # sentinel: the sampler has stopped
LOSSLESS_RECHECK_S = 0.1  # a sampler waiting on a full lossless queue looks this often whether its consumer gave up


class FrameQueue:
    """A bounded hand-off from the sampling thread to one consumer."""

    def __init__(self, maxsize: int, lossless: bool = False, poll_s: float = 0.0) -> None:
        self.maxsize = maxsize
        self.dropped = 0
        # Lossless: the sampler waits for this consumer.  Only for virtual time (a simulated
        # session run as fast as possible), where waiting delays nothing real.
        self.lossless = lossless
        # Polled (poll_s > 0, lossy only): the consumer looks every poll_s and takes what came, instead
        # of being woken for each batch.  Waking a thread costs about as much CPU as the sample it
        # carries; a consumer that is fine with poll_s of delay saves it (10 or 100 times a second).
        # Nobody waits on a polled queue, so it is a bare deque: appends and pops are atomic, and
        # it skips a Queue's locks and notifications for every batch.
        self.poll_s = 0.0 if lossless else poll_s
        self._queue: queue.Queue[Batch] | None = None if self.poll_s > 0 else queue.Queue(maxsize)
        self._polled: deque[Batch] = deque()
        self._closed = threading.Event()
        self._abandoned = False

    def abandon(self) -> None:
        """The consumer stops taking batches (it failed or ended): every later offer is a drop, never a wait."""
        self._abandoned = True

    def offer(self, batch: Batch) -> None:
        if self._abandoned:
            self.dropped += 1
        elif self._queue is None:
            if len(self._polled) < self.maxsize:
                self._polled.append(batch)
            else:
                self.dropped += 1
        elif self.lossless:
            self._put_lossless(batch)
        else:
            try:
                self._queue.put_nowait(batch)
            except queue.Full:
                self.dropped += 1

    def close(self) -> None:
        """Hand over END; a lossy queue never blocks: when full, the oldest batch makes room (a drop)."""
        if self._queue is None:
            if len(self._polled) >= self.maxsize:
                self._polled.popleft()
                self.dropped += 1
            self._polled.append(END)
        elif self.lossless:
            self._put_lossless(END)
        else:
            self._put_end(self._queue)
        self._closed.set()

    def _put_lossless(self, batch: Batch) -> None:
        """Wait for room while the consumer lives; a consumer that abandons the queue frees the sampler."""
        assert self._queue is not None
        while not self._abandoned:
            try:
                self._queue.put(batch, timeout=LOSSLESS_RECHECK_S)
                return
            except queue.Full:
                continue
        self.dropped += 1

    def _put_end(self, handoff: queue.Queue[Batch]) -> None:
        while True:
            try:
                handoff.put_nowait(END)
                return
            except queue.Full:
                try:
                    handoff.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def get(self, timeout: float | None = None) -> Batch | None:
        """The next batch, END when the sampler stopped, or None on timeout."""
        if self._queue is not None:
            try:
                return self._queue.get(timeout=timeout)
            except queue.Empty:
                return None
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                return self._polled.popleft()
            except IndexError:
                if self._closed.is_set():
                    return None  # END was taken already: nothing more will come
            wait = self.poll_s if deadline is None else min(self.poll_s, deadline - time.monotonic())
            if wait <= 0:
                return None
            wait_real(wait, self._closed)  # a long wait ends at once with close(), a short one sleeps


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
        self._subscribers: list[FrameQueue] = []
        self._batch_size = max(1, int(hz / BATCH_HZ))
        self._unsent: list[Frame] = []  # read, not derived nor handed out yet
        self._pending_tags: list[tuple[int, str]] = []
        self._steps = StepDetector()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rigscope-sampler", daemon=True)

    def subscribe(self, maxsize: int = 10_000, lossless: bool = False, poll_s: float = 0.0) -> FrameQueue:
        subscriber = FrameQueue(maxsize, lossless, poll_s)
        self._subscribers.append(subscriber)
        return subscriber

    def post_event(self, event: Event) -> None:
        """Hand an event to every subscriber; a tag also steers the workload state. Any thread."""
        if event.get("kind") == EventKind.TAG and self.signals is not None:
            with self._lock:
                self._pending_tags.append((us_from_iso(event["ts"]), str(event["state"])))
        self._broadcast(Batch(None, (event,)))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def run_inline(self) -> None:
        """Run in the calling thread until the duration ends or `stop` (benchmarks, tests)."""
        self._run()

    def _broadcast(self, batch: Batch) -> None:
        for subscriber in self._subscribers:
            subscriber.offer(batch)

    def _run(self) -> None:
        try:
            for tick in self.ticker.ticks(self._stop):
                self._sample(tick.elapsed_s, tick.lag_s)
        finally:
            self._derive_and_send()
            closing = self.signals.finish() if self.signals is not None else []
            if closing:
                self._broadcast(Batch(None, tuple(closing)))
            for subscriber in self._subscribers:
                subscriber.close()
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
            self._broadcast(Batch(frame, tuple(events)))

    def _notify(self, message: str) -> None:
        self.stats.notices.append(message)
        if self._on_notice is not None:
            self._on_notice(message)
