"""Reads slow collectors (NVML can stall for seconds) off the sampling thread.

`BackgroundGroup` reads the parts of a collector (one part per GPU) in a reader
thread, one part after the other, on its own drift-free schedule at the
sampling rate; the sampling thread takes each part's latest reading without
waiting.  A part's reading older than `stale_after_s` is not passed off as
current: its values become null and the stall is told once, until fresh
readings arrive again.

A part whose call hangs keeps the thread that is inside it: once that call has
lasted `takeover_after_s`, the sampling thread retires that reader and starts a
new one, which reads the other parts (skipping the one still held).  When the
hung call returns, its reading is taken and the retired thread ends.  So the
common case costs one thread and one wake-up per tick, and a hang on one GPU
costs one more thread for as long as it hangs while the others keep sampling
on time.  Parts are read concurrently only across such a hand-over, never the
same part twice at once: each part must keep its own state.

Closing stops every reader and closes the whole collector (NVML shutdown) only
once none is left inside a call.  The schedule and the readings' age are on
`clock` (real time; tests pass a clock that follows the sampler's virtual
time; a `VirtualClock` itself would not do: waiting on it moves it).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from typing import Any

from collectors.base import Collector, Reading
from collectors.clock import Clock, RealClock

CLOSE_WAIT_S = 1.0  # how long closing waits for reader threads to leave their calls


class _Part:
    """One part's latest reading, and which reader (by generation) is inside its read since when."""

    __slots__ = ("label", "collector", "latest", "latest_at", "keys", "stalled", "holder", "busy_since")

    def __init__(self, label: str, collector: Collector) -> None:
        self.label, self.collector = label, collector
        self.latest: Reading = {}
        self.latest_at: float | None = None
        self.keys: tuple[str, ...] = ()
        self.stalled = False
        self.holder: int | None = None
        self.busy_since: float | None = None


class BackgroundGroup(Collector):
    """`whole` read as its `parts` (label -> part) in reader threads; closing this closes `whole`.

    The parts hold no resources of their own (the whole does)."""

    def __init__(self, whole: Collector, parts: Mapping[str, Collector], hz: float,
                 stale_after_s: float | None = None, clock: Clock | None = None,
                 takeover_after_s: float | None = None) -> None:
        super().__init__()
        self.name = whole.name
        self._whole = whole
        self._clock = clock or RealClock()
        self._period = 1.0 / hz
        self._stale_after_s = stale_after_s if stale_after_s is not None else max(3 * self._period, 2.0)
        self._takeover_after_s = takeover_after_s if takeover_after_s is not None else max(2 * self._period, 0.5)
        self._parts = [_Part(label, part) for label, part in parts.items()]
        self._lock = threading.Lock()  # guards each part's holder and the current generation
        self._stop = threading.Event()
        self._generation = 0
        self._threads: list[threading.Thread] = []
        self._start = self._clock.monotonic()
        self._start_reader(0)

    def info(self) -> dict[str, Any]:
        return self._whole.info()

    @property
    def reader_threads(self) -> int:
        """Reader threads alive: 1, plus one per part whose call hangs."""
        return sum(t.is_alive() for t in self._threads)

    def reading_time(self, label: str) -> float | None:
        """Clock time of the latest reading of part `label`; None before the first."""
        return next(p.latest_at for p in self._parts if p.label == label)

    def _start_reader(self, slot: int) -> None:
        self._generation += 1
        thread = threading.Thread(target=self._run, args=(self._generation, slot), daemon=True,
                                  name=f"rigscope-{self.name}-{self._generation}")
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _claim(self, part: _Part, generation: int) -> bool | None:
        """True: read `part` now; False: skip it (a retired reader is inside it); None: this reader is retired."""
        with self._lock:
            if generation != self._generation:
                return None
            if part.holder is not None:
                return False
            part.holder, part.busy_since = generation, self._clock.monotonic()
            return True

    def _run(self, generation: int, slot: int) -> None:
        clock, start, period = self._clock, self._start, self._period
        while not self._stop.is_set():
            for part in self._parts:
                claimed = self._claim(part, generation)
                if claimed is None:
                    return
                if claimed:
                    reading = part.collector.read(clock.monotonic() - start)
                    part.latest, part.latest_at, part.keys = reading, clock.monotonic(), tuple(reading)
                    with self._lock:
                        part.holder = part.busy_since = None
            if generation != self._generation:
                return
            slot = max(slot + 1, int((clock.monotonic() - start) / period))
            if clock.wait(start + slot * period - clock.monotonic(), self._stop):
                return

    def read(self, elapsed_s: float) -> Reading:
        now = self._clock.monotonic()
        row: Reading = {}
        for part in self._parts:
            self._notices.extend(part.collector.drain_notices())
            row.update(self._current(part, now))
        self._take_over_from_a_hung_reader(now)
        return row

    def _current(self, part: _Part, now: float) -> Reading:
        age = now - (part.latest_at if part.latest_at is not None else self._start)
        if age > self._stale_after_s:
            if not part.stalled:  # told once per stall (the age in the message changes every tick)
                part.stalled = True
                who = f"{part.label} " if part.label else ""
                self._notices.append(f"{self.name}: {who}no reading for {age:.1f} s (stalled); values are null "
                                     "until it answers")
            return dict.fromkeys(part.keys)
        part.stalled = False
        return part.latest

    def _take_over_from_a_hung_reader(self, now: float) -> None:
        if len(self._parts) < 2:
            return  # nothing else for a new reader to read
        hung = False
        for part in self._parts:
            since = part.busy_since
            hung = hung or (since is not None and now - since > self._takeover_after_s)
        if not hung:
            return
        with self._lock:
            if any(p.holder == self._generation and p.busy_since is not None
                   and now - p.busy_since > self._takeover_after_s for p in self._parts):
                self._start_reader(math.floor((now - self._start) / self._period + 1e-9))

    def close(self) -> None:
        self._stop.set()
        deadline = time.monotonic() + CLOSE_WAIT_S
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if not any(t.is_alive() for t in self._threads):  # never shut NVML down under a call that still hangs
            self._whole.close()
