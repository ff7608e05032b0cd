"""rigscope's own cost: CPU % of one core and resident memory of this process, refreshed once a second of real time."""

from __future__ import annotations

import time

import psutil

from collectors.base import Collector, Reading


class SelfUsageCollector(Collector):
    name = "self"

    def __init__(self) -> None:
        super().__init__()
        self._process = psutil.Process()
        self._process.cpu_percent()  # primes the interval
        self._last_t: float | None = None
        self._reading: Reading = {"self_cpu_pct": None, "self_rss_bytes": None}

    def read(self, elapsed_s: float) -> Reading:
        now = time.monotonic()  # real time: a simulated session may run faster than the clock on the wall
        if self._last_t is None or now - self._last_t >= 1.0:
            self._last_t = now
            with self._process.oneshot():
                self._reading = {"self_cpu_pct": self._process.cpu_percent(),
                                 "self_rss_bytes": self._process.memory_info().rss}
        return self._reading
