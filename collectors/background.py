"""Runs slow collectors (NVML can stall for seconds) in their own threads.

`BackgroundCollector` gives one collector a reader thread that reads it on the
sampling period, on its own drift-free schedule; the sampling thread takes the
latest reading without waiting.  A reading older than `stale_after_s` is not
passed off as current: its values become null and the stall is told once,
until fresh readings arrive again.

`BackgroundGroup` does that for each part of a collector (each GPU: one thread
per GPU), so a part that hangs makes only its own columns stale while the
other parts keep their readings fresh.  Each part must keep its own state: the
parts' reads run concurrently.  The group is read from the sampling thread
only; closing it stops every thread, and closes the whole collector (NVML
shutdown) only once none is left inside a call.

The schedule and the readings' age are on `clock` (real time; tests pass a
clock that follows the sampler's virtual time; a `VirtualClock` itself would not
do: waiting on it moves it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from collectors.base import Collector, Reading
from collectors.clock import Clock, RealClock

CLOSE_WAIT_S = 1.0  # how long closing waits for reader threads to leave their calls


class BackgroundCollector(Collector):
    def __init__(self, inner: Collector, hz: float, stale_after_s: float | None = None,
                 clock: Clock | None = None, label: str = "") -> None:
        super().__init__()
        self._clock = clock or RealClock()
        self.name = inner.name
        self._label = f"{label} " if label else ""  # names the part in the stall notice
        self._inner = inner
        self._period = 1.0 / hz
        self._stale_after_s = stale_after_s if stale_after_s is not None else max(3 * self._period, 2.0)
        self._latest: Reading = {}
        self._latest_at: float | None = None
        self._keys: tuple[str, ...] = ()
        self._stalled = False
        self._stop = threading.Event()
        self._started_at = self._clock.monotonic()
        thread_name = f"rigscope-{inner.name}" + (f"-{label}" if label else "")
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self._thread.start()

    def info(self) -> dict[str, Any]:
        return self._inner.info()

    @property
    def reading_time(self) -> float | None:
        """Clock time of the latest reading; None before the first."""
        return self._latest_at

    def _run(self) -> None:
        clock = self._clock
        start = self._started_at
        slot = 0
        while not self._stop.is_set():
            reading = self._inner.read(clock.monotonic() - start)
            self._latest, self._latest_at = reading, clock.monotonic()
            self._keys = tuple(reading)
            slot = max(slot + 1, int((clock.monotonic() - start) / self._period))
            if clock.wait(start + slot * self._period - clock.monotonic(), self._stop):
                return

    def read(self, elapsed_s: float) -> Reading:
        for message in self._inner.drain_notices():
            self._notices.append(message)
        since = self._latest_at if self._latest_at is not None else self._started_at
        age = self._clock.monotonic() - since
        if age > self._stale_after_s:
            if not self._stalled:  # told once per stall (the age in the message changes every tick)
                self._stalled = True
                self._notices.append(f"{self.name}: {self._label}no reading for {age:.1f} s (stalled); values are "
                                     "null until it answers")
            return dict.fromkeys(self._keys)
        self._stalled = False
        return self._latest

    def stop(self) -> None:
        """Ask the thread to stop after its current read, without waiting."""
        self._stop.set()

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` s for the thread to end; True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self) -> None:
        self.stop()
        if self.join(CLOSE_WAIT_S):
            self._inner.close()


class BackgroundGroup(Collector):
    """`whole` read as its `parts` (label -> part), each part in its own `BackgroundCollector`.

    The parts hold no resources of their own (the whole does: closing the group closes it)."""

    def __init__(self, whole: Collector, parts: Mapping[str, Collector], hz: float,
                 stale_after_s: float | None = None, clock: Clock | None = None) -> None:
        super().__init__()
        self.name = whole.name
        self._whole = whole
        self.readers = {label: BackgroundCollector(part, hz, stale_after_s, clock, label)
                        for label, part in parts.items()}

    def info(self) -> dict[str, Any]:
        return self._whole.info()

    def read(self, elapsed_s: float) -> Reading:
        row: Reading = {}
        for reader in self.readers.values():
            row.update(reader.read(elapsed_s))
            self._notices.extend(reader.drain_notices())
        return row

    def close(self) -> None:
        for reader in self.readers.values():
            reader.stop()
        deadline = time.monotonic() + CLOSE_WAIT_S
        stopped = [reader.join(max(0.0, deadline - time.monotonic())) for reader in self.readers.values()]
        if all(stopped):  # never shut NVML down under a call that still hangs
            self._whole.close()
