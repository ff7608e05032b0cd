"""A drift-free schedule: tick k is due at `start + k / hz` on the clock.

A late tick still runs, and its lateness is reported; when the work falls more
than a whole period behind, the missed slots are counted (never silently
dropped) and the schedule resumes at the next slot still ahead.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from collectors.clock import Clock


@dataclass(frozen=True)
class Tick:
    index: int
    due: float  # clock seconds
    now: float  # clock seconds when the tick ran
    elapsed_s: float  # `now` relative to when the first tick ran

    @property
    def lag_s(self) -> float:
        return self.now - self.due


class Ticker:
    def __init__(self, hz: float, clock: Clock, duration_s: float | None = None) -> None:
        if not 0 < hz:
            raise ValueError("hz must be positive")
        self.period = 1.0 / hz
        self.clock = clock
        self.duration_s = duration_s
        self.missed = 0

    def ticks(self, stop: threading.Event) -> Iterator[Tick]:
        start = self.clock.monotonic()
        slot = 0
        first_now: float | None = None
        while not stop.is_set():
            due = start + slot * self.period
            if self.duration_s is not None and due - start >= self.duration_s - 1e-9:
                return
            if self.clock.wait(due - self.clock.monotonic(), stop):
                return
            now = self.clock.monotonic()
            if first_now is None:
                first_now = now
            yield Tick(slot, due, now, now - first_now)
            slot += 1
            behind = self.clock.monotonic() - (start + slot * self.period)
            if behind > self.period:
                skipped = math.floor(behind / self.period)
                self.missed += skipped
                slot += skipped
