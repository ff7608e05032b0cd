"""The frame stream: batches from one source (the sampler, a replay) fanned out to its sinks' queues.

A source (the sampler, or a replay: recordings/replay_player.py) publishes
`Batch`es (a frame and the events that came with it, or events alone) into a
`FrameStream`; each sink (the session writer, the span
assembler, the process tier, the HTTP exporter, the screen feed) reads its own
`FrameQueue`.  How a sink's queue behaves is decided in one place,
`StreamPolicy`, from the clock the source runs on and what the sink says it
needs (`Sink`): on real time a queue never makes the source wait (a full one
counts a drop); on virtual time (a simulation run as fast as possible) every
queue is lossless, because waiting there delays nothing real (a replay's
stream is lossless too: the player waits for its screen).

Besides frames and events a batch may carry side-channel records: finished
span rows and the process rows of a slow tick.  Live, the span assembler and
the process tier, which read the stream themselves, `tell` them to the sinks
that asked for them (`Sink.side_records`: the screen); a replay publishes the
session's recorded ones at their time.  A screen thus reads spans and
processes from the stream whatever the source.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from collectors.clock import Clock, VirtualClock, wait_real
from collectors.process_rows import ProcessSnapshot

Frame = dict[str, Any]
Event = dict[str, Any]


@dataclass(frozen=True)
class Batch:
    """What a subscriber receives: a frame (None for events alone) and the events that came with it;
    or side-channel records: finished span rows (SESSION_FORMAT § Spans), the process rows of a tick."""

    frame: Frame | None
    events: tuple[Event, ...] = ()
    spans: tuple[dict[str, Any], ...] = ()
    processes: ProcessSnapshot | None = None


END = Batch(None, ())  # sentinel: the source has stopped
RESET = Batch(None, ())  # sentinel: a replay seeks; a screen forgets what it showed (other sinks ignore it)
LOSSLESS_RECHECK_S = 0.1  # a source waiting on a full lossless queue looks this often whether its consumer gave up


class FrameQueue:
    """A bounded hand-off from the source's thread to one consumer (`maxsize` batches; 0: unbounded)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.dropped = 0  # batches
        self.fell_behind = 0  # of them, while the consumer was still reading
        self.dropped_events = 0  # the events in those
        self._abandoned = False

    def _drop(self, batch: Batch) -> None:
        """Count a batch not taken; apart, those the consumer fell too far behind to take (not those offered after
        it left: a recording toggled, a failed writer, said where it happens, not as a queue that fell behind)."""
        self.dropped += 1
        if not self._abandoned:
            self.fell_behind += 1
            self.dropped_events += len(batch.events)

    def abandon(self) -> None:
        """The consumer stops taking batches (it failed or ended): every later offer is let go, never a wait."""
        self._abandoned = True

    def offer(self, batch: Batch) -> None:
        """Hand `batch` over (the source's thread)."""
        raise NotImplementedError

    def close(self) -> None:
        """Hand over END (the source's thread, once, last)."""
        raise NotImplementedError

    def get(self, timeout: float | None = None) -> Batch | None:
        """The next batch, END when the source stopped, or None on timeout."""
        raise NotImplementedError


class LossyQueue(FrameQueue):
    """The consumer is woken for each batch; a full queue drops the new batch (the source never waits)."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self._queue: queue.Queue[Batch] = queue.Queue(maxsize)

    def offer(self, batch: Batch) -> None:
        if self._abandoned:
            self._drop(batch)
            return
        try:
            self._queue.put_nowait(batch)
        except queue.Full:
            self._drop(batch)

    def close(self) -> None:
        """END never waits: when the queue is full, the oldest batch makes room (a drop)."""
        while True:
            try:
                self._queue.put_nowait(END)
                return
            except queue.Full:
                try:
                    self._drop(self._queue.get_nowait())
                except queue.Empty:
                    pass

    def get(self, timeout: float | None = None) -> Batch | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None


class LosslessQueue(LossyQueue):
    """The source waits for room while the consumer lives: only for virtual time, where waiting delays nothing real."""

    def offer(self, batch: Batch) -> None:
        self._put(batch)

    def close(self) -> None:
        self._put(END)

    def _put(self, batch: Batch) -> None:
        """Wait for room while the consumer lives; a consumer that abandons the queue frees the source."""
        while not self._abandoned:
            try:
                self._queue.put(batch, timeout=LOSSLESS_RECHECK_S)
                return
            except queue.Full:
                continue
        self._drop(batch)


class PolledQueue(FrameQueue):
    """The consumer looks every `poll_s` and takes what came, instead of being woken for each batch.

    Waking a thread costs about as much CPU as the sample it carries; a consumer that is fine with
    poll_s of delay saves it (10 or 100 times a second).  Nobody waits on a polled queue, so it is a
    bare deque: appends and pops are atomic, and it skips a Queue's locks and notifications.  A full
    queue drops the new batch; END makes room by dropping the oldest.
    """

    def __init__(self, maxsize: int, poll_s: float) -> None:
        super().__init__(maxsize)
        self.poll_s = poll_s
        self._polled: deque[Batch] = deque()
        self._closed = threading.Event()

    def offer(self, batch: Batch) -> None:
        if not self._abandoned and len(self._polled) < self.maxsize:
            self._polled.append(batch)
        else:
            self._drop(batch)

    def close(self) -> None:
        if len(self._polled) >= self.maxsize:
            self._drop(self._polled.popleft())
        self._polled.append(END)
        self._closed.set()

    def get(self, timeout: float | None = None) -> Batch | None:
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


@dataclass(frozen=True)
class Sink:
    """What a consumer needs of its queue: room for `backlog_s` of frames (at least `min_batches`),
    and how late it may take them (`latency_s`; 0: woken for each batch)."""

    name: str
    backlog_s: float
    min_batches: int
    latency_s: float = 0.0
    side_records: bool = False  # also given the span rows and process rows other sinks `tell`


CONSUMER_POLL_S = 0.25  # the background writers take the stream's batches 4 times a second

# The sinks of a live session.  The session writer's latency follows --realtime and the flush
# interval, the screen's its redraw rate: their owners set `latency_s` with dataclasses.replace.
SESSION_WRITER = Sink("session writer", backlog_s=60.0, min_batches=1000, latency_s=CONSUMER_POLL_S)
SPAN_ASSEMBLER = Sink("span assembler", backlog_s=60.0, min_batches=1000, latency_s=CONSUMER_POLL_S)
PROCESS_TIER = Sink("process tier", backlog_s=10.0, min_batches=100, latency_s=CONSUMER_POLL_S)
EXPORTER = Sink("exporter", backlog_s=60.0, min_batches=1000)  # woken per batch: /metrics is fresh
SCREEN = Sink("screen feed", backlog_s=10.0, min_batches=100, latency_s=CONSUMER_POLL_S, side_records=True)


@dataclass(frozen=True)
class StreamPolicy:
    """Queue size, loss and polling for every sink of a stream, from its rate and its clock."""

    hz: float
    lossless: bool = False

    @classmethod
    def for_clock(cls, clock: Clock, hz: float) -> StreamPolicy:
        """Virtual time (a simulation run as fast as possible, or a run's fast phases) outruns any
        reader: every sink must see every batch, and the source may wait for it."""
        return cls(hz, lossless=isinstance(clock, VirtualClock))

    def queue(self, sink: Sink) -> FrameQueue:
        if self.lossless:  # a backlog in seconds means nothing when time waits for the work
            return LosslessQueue(sink.min_batches)
        size = max(sink.min_batches, int(self.hz * sink.backlog_s))
        return PolledQueue(size, sink.latency_s) if sink.latency_s > 0 else LossyQueue(size)


class FrameStream:
    """One source's fan-out: every batch published goes to every subscribed queue."""

    def __init__(self, policy: StreamPolicy) -> None:
        self.policy = policy
        self._queues: list[FrameQueue] = []
        self._side: list[FrameQueue] = []  # the queues of the sinks that read side-channel records
        self._sinks: list[tuple[str, FrameQueue]] = []  # the subscribed ones, by their sink's name

    def subscribe(self, sink: Sink) -> FrameQueue:
        """A queue for `sink`, as the policy decides (before the source starts)."""
        frames = self.attach(self.policy.queue(sink), sink.side_records)
        self._sinks.append((sink.name, frames))
        return frames

    def drops(self) -> dict[str, dict[str, int]]:
        """What each subscribed sink's queues dropped so far: {sink name: {"batches": n, "events": n}}
        (a sink subscribed again, a screen that replaced its feed, sums its queues)."""
        lost: dict[str, dict[str, int]] = {}
        for name, frames in self._sinks:
            counts = lost.setdefault(name, {"batches": 0, "events": 0})
            counts["batches"] += frames.fell_behind
            counts["events"] += frames.dropped_events
        return lost

    def attach(self, frames: FrameQueue, side_records: bool = False) -> FrameQueue:
        """Add a queue built by hand (tests, benchmarks)."""
        self._queues.append(frames)
        if side_records:
            self._side.append(frames)
        return frames

    def publish(self, batch: Batch) -> None:
        for frames in self._queues:
            frames.offer(batch)

    def tell(self, batch: Batch) -> None:
        """A side-channel record (span rows, process rows) from a sink's thread, to the sinks that read them.

        Not to every sink: the span assembler and the process tier read this stream themselves, and
        must not be handed their own records (on virtual time a full queue would wait on itself)."""
        for frames in self._side:
            frames.offer(batch)

    def close(self) -> None:
        """END to every queue: the source has stopped."""
        for frames in self._queues:
            frames.close()
