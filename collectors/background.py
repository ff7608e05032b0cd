"""Runs a slow collector (NVML can stall for seconds) in its own thread.

The sampling thread takes the latest reading without waiting.  A reading older
than `stale_after_s` is not passed off as current: its values become null and
the stall is told once, until fresh readings arrive again.  The age is
measured on `now` (real monotonic time; tests pass a virtual clock's).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from collectors.base import Collector, Reading


class BackgroundCollector(Collector):
    def __init__(self, inner: Collector, hz: float, stale_after_s: float | None = None,
                 now: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._now = now
        self.name = inner.name
        self._inner = inner
        self._period = 1.0 / hz
        self._stale_after_s = stale_after_s if stale_after_s is not None else max(3 * self._period, 2.0)
        self._latest: Reading = {}
        self._latest_at: float | None = None
        self._keys: tuple[str, ...] = ()
        self._stalled = False
        self._stop = threading.Event()
        self._started_at = now()
        self._thread = threading.Thread(target=self._run, name=f"rigscope-{inner.name}", daemon=True)
        self._thread.start()

    def info(self) -> dict[str, Any]:
        return self._inner.info()

    def _run(self) -> None:
        start = time.monotonic()
        slot = 0
        while not self._stop.is_set():
            reading = self._inner.read(time.monotonic() - start)
            self._latest, self._latest_at = reading, self._now()
            self._keys = tuple(reading)
            slot = max(slot + 1, int((time.monotonic() - start) / self._period))
            if self._stop.wait(max(0.0, start + slot * self._period - time.monotonic())):
                return

    def read(self, elapsed_s: float) -> Reading:
        for message in self._inner.drain_notices():
            self._notices.append(message)
        since = self._latest_at if self._latest_at is not None else self._started_at
        age = self._now() - since
        if age > self._stale_after_s:
            if not self._stalled:  # told once per stall (the age in the message changes every tick)
                self._stalled = True
                self._notices.append(f"{self.name}: no reading for {age:.1f} s (stalled); values are null until "
                                     "it answers")
            return dict.fromkeys(self._keys)
        self._stalled = False
        return self._latest

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
        if not self._thread.is_alive():
            self._inner.close()
