"""The dashboard's view of the frame stream: ring buffers filled by a background thread, read as snapshots.

The feed thread drains a sampler subscription and keeps, per tracked series,
the last `raw_seconds` of samples at the sampling rate plus one mean per
second for `long_seconds`.  The UI never waits on it: on its own redraw timer
it asks for a `Snapshot` (immutable tuples) and redraws only when `version`
moved.  Custom metrics and spans of instrumented workloads ride along
(`tui.probe_data`); their events stay out of `events`, so a workload logging a
metric every step never pushes notes and collapses out.  Finished spans and the
process rows of the latest slow tick come on the same stream, live and in replay
alike (`collectors.stream.Batch`).  Nothing here touches Textual.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from collectors.event_kinds import COLLAPSE_KINDS, SPAN_KINDS, EventKind
from collectors.process_rows import ProcessSnapshot
from collectors.stream import END, RESET, Batch, FrameQueue
from tui.probe_data import MetricsView, ProbeFeed, SpansView

Value = float | None


class SeriesRing:
    """Recent values at the sampling rate, and per-second means further back."""

    def __init__(self, raw_len: int, long_len: int) -> None:
        self.raw: deque[Value] = deque(maxlen=raw_len)
        self.seconds: deque[Value] = deque(maxlen=long_len)
        self._bucket_second: int | None = None
        self._bucket_sum = 0.0
        self._bucket_count = 0

    def append(self, elapsed_s: float, value: Value) -> None:
        self.raw.append(value)
        second = int(elapsed_s)
        if self._bucket_second is not None and second != self._bucket_second:
            self.seconds.append(self._bucket_sum / self._bucket_count if self._bucket_count else None)
            self._bucket_sum, self._bucket_count = 0.0, 0
        self._bucket_second = second
        if value is not None:
            self._bucket_sum += value
            self._bucket_count += 1

    def window(self, seconds: float, hz: float) -> tuple[Value, ...]:
        """The last `seconds` of values: raw samples for short windows, else per-second means.

        A sparkline has at most a few dozen columns: from a minute up, one value a second is
        plenty, and resampling 120 means instead of 1,200 samples keeps redraws cheap.
        """
        raw_points = int(seconds * hz)
        if seconds < SECONDS_FROM or (raw_points <= (self.raw.maxlen or 0) and len(self.seconds) < 2):
            return last(self.raw, raw_points)
        return last(self.seconds, int(seconds))


def last(values: deque[Value], count: int) -> tuple[Value, ...]:
    """The newest `count` values, oldest first, copying only those (an hour of means is 3,600)."""
    if count >= len(values):
        return tuple(values)
    return tuple(islice(reversed(values), count))[::-1] if count > 0 else ()


SECONDS_FROM = 60.0
PROBE_KINDS = frozenset({EventKind.METRIC, *SPAN_KINDS})  # shown by the spans and metrics panes
NO_PROCESSES = ProcessSnapshot(0, None, ())  # before the first slow tick


@dataclass(frozen=True)
class Snapshot:
    version: int
    frame: dict[str, Any]
    events: tuple[dict[str, Any], ...]
    series: dict[str, tuple[Value, ...]] = field(default_factory=dict)
    state_history: tuple[tuple[float, str], ...] = ()  # (watched_s when it began, state)
    collapses: dict[str, CollapseCount] = field(default_factory=dict)
    ended: bool = False
    spans: SpansView = field(default_factory=lambda: SpansView(0))
    metrics: MetricsView = field(default_factory=lambda: MetricsView(0))
    watched_s: float | None = None  # the screen's clock (`DashboardFeed.watched_s`); None: the frame's elapsed_s

    @property
    def clock_s(self) -> float:
        """How long the screen has watched: the header's clock, and the time of the state history."""
        return self.watched_s if self.watched_s is not None else (self.frame.get("elapsed_s") or 0.0)


@dataclass
class CollapseCount:
    """A device's collapse events so far: count, seconds of finished events, start of an active one."""

    events: int = 0
    closed_s: float = 0.0
    active_start: float | None = None

    def seconds(self, now_s: float) -> float:
        return self.closed_s + (max(0.0, now_s - self.active_start) if self.active_start is not None else 0.0)

    def take(self, event: dict[str, Any]) -> None:
        if event["kind"] == EventKind.COLLAPSE_START:
            self.events += 1
            self.active_start = event.get("start")
        else:
            self.closed_s += (event.get("end") or 0.0) - (event.get("start") or 0.0)
            self.active_start = None


class DashboardFeed:
    """A thread drains `frames`: the sampler's (live) or a replay player's stream (`RESET` empties it: a seek).

    Its queue is a `side_records` sink's (`collectors.stream.SCREEN`): span rows and process rows
    come on it too."""

    def __init__(self, frames: FrameQueue | None, columns: Sequence[str], hz: float,
                 raw_seconds: float = 120.0, long_seconds: int = 3600, max_events: int = 500) -> None:
        self.hz = hz
        self._frames = frames
        self._columns = list(columns)
        self._raw_len = max(2, int(raw_seconds * hz))
        self._long_seconds = long_seconds
        self._max_events = max_events
        self._lock = threading.Lock()
        self.version = 0
        self.ended = False
        self.probe = ProbeFeed()
        self.reset()
        self._thread = threading.Thread(target=self._run, name="rigscope-feed", daemon=True)

    def reset(self) -> None:
        """Forget everything shown (replay seeks); the version still moves forward."""
        with self._lock:
            self._rings = {name: SeriesRing(self._raw_len, self._long_seconds) for name in self._columns}
            self._events: deque[dict[str, Any]] = deque(maxlen=self._max_events)
            self._states: deque[tuple[float, str]] = deque(maxlen=200)
            self._frame: dict[str, Any] = {}
            self._base_s = 0.0  # watched seconds before the session of the frames now coming (see `watched_s`)
            self._collapses: dict[str, CollapseCount] = {}
            self._processes = NO_PROCESSES
            self.probe.reset()
            self.probe.reset_spans()
            self.version += 1

    def reset_events(self) -> None:
        """Forget the events, collapse counts, spans and process rows (a new session began); the series go on."""
        with self._lock:
            self._events.clear()
            self._collapses = {}
            self._processes = NO_PROCESSES
            self.probe.reset_spans()
            self.version += 1

    def processes(self) -> ProcessSnapshot:
        """The process rows of the latest slow tick (`NO_PROCESSES` before the first)."""
        return self._processes

    def poll_spans(self) -> None:
        """Copy the spans counted for the screen, if new ones came (the feed thread; `take` for tests)."""
        if self.probe.poll_spans():
            with self._lock:
                self.version += 1

    def start(self) -> None:
        self._thread.start()

    @property
    def watched_s(self) -> float:
        """Seconds the screen has watched: the frames' elapsed_s, which a new session (a recording toggled:
        `attach`) starts at 0 again, continued across sessions, so the clock and the histories go on."""
        return self._base_s + (self._frame.get("elapsed_s") or 0.0)

    def attach(self, frames: FrameQueue) -> None:
        """Read from a new subscription from now on (recording restarted); the old one is abandoned."""
        old, self._frames = self._frames, frames
        if old is not None:
            old.abandon()

    def _run(self) -> None:
        try:
            self._follow()
        finally:  # however it ends, a lossless queue (virtual time) must not hold the sampler
            if self._frames is not None:
                self._frames.abandon()

    def _follow(self) -> None:
        batch: Batch | None = None  # taken but not handled yet, from `source`
        source = self._frames
        while True:
            if batch is None:
                if source is not self._frames:  # attached to a new session: its elapsed_s starts again at 0
                    with self._lock:
                        self._base_s = self.watched_s
                        # the old session's last frame stays shown; its elapsed_s is in the base now, not to add twice
                        self._frame = {**self._frame, "elapsed_s": 0.0}
                source = self._frames
                assert source is not None
                batch = source.get(timeout=0.5)
            if batch is END and source is not self._frames:
                batch = None
                continue
            if batch is END:
                with self._lock:
                    self.ended = True
                    self.version += 1
                return
            if batch is RESET:
                self.reset()
                batch = None
                continue
            # Everything that came since the last look, under one lock: at 100 Hz a look finds 25 frames.
            batches: list[Batch] = []
            while batch is not None and batch is not END and batch is not RESET:
                batches.append(batch)
                assert source is not None
                batch = source.get(timeout=0)
            if batches:
                self._take_all(batches)
            else:
                self.poll_spans()  # nothing came: spans held back by SPANS_EVERY_S show now

    def take(self, batch: Batch) -> None:
        """One batch of the stream: a frame and its events, finished spans, process rows (tests, a replay)."""
        self._take_all([batch])

    def _take_all(self, batches: list[Batch]) -> None:
        with self._lock:
            for batch in batches:
                if batch.frame is not None or batch.events:
                    self._add(batch.frame, batch.events)
                if batch.spans:
                    self.probe.take_spans(batch.spans)
                if batch.processes is not None:
                    self._processes = batch.processes
            self.probe.poll_spans()  # the spans counted, copied for the screen (at most every SPANS_EVERY_S)
            self.version += 1

    def add(self, frame: dict[str, Any] | None, events: Iterable[dict[str, Any]] = ()) -> None:
        """Take one frame and its events (a replay source, or the screen's notices, calls this)."""
        with self._lock:
            self._add(frame, events)
            self.version += 1

    def _add(self, frame: dict[str, Any] | None, events: Iterable[dict[str, Any]]) -> None:
        for event in events:
            kind = event.get("kind")
            if kind in PROBE_KINDS:
                if kind == EventKind.METRIC:
                    self.probe.take(event)
                continue
            self._events.append(event)
            if kind in COLLAPSE_KINDS:
                self._collapses.setdefault(str(event.get("device")), CollapseCount()).take(event)
        if frame is not None:
            self._frame = frame
            elapsed = self.watched_s
            for name, ring in self._rings.items():
                value = frame.get(name)
                ring.append(elapsed, float(value) if isinstance(value, (int, float)) else None)
            state = frame.get("workload_state")
            if state and (not self._states or self._states[-1][1] != state):
                self._states.append((elapsed, state))

    def snapshot(self, window_s: float, names: Iterable[str] | None = None) -> Snapshot:
        with self._lock:
            chosen = self._rings if names is None else {n: self._rings[n] for n in names if n in self._rings}
            return Snapshot(
                version=self.version,
                frame=dict(self._frame),
                events=tuple(self._events),
                series={name: ring.window(window_s, self.hz) for name, ring in chosen.items()},
                state_history=tuple(self._states),
                collapses={d: CollapseCount(c.events, c.closed_s, c.active_start) for d, c in self._collapses.items()},
                ended=self.ended,
                spans=self.probe.spans(),
                metrics=self.probe.metrics(),
                watched_s=self.watched_s,
            )
