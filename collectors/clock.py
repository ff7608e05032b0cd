"""Clocks the sampler runs on: real time, real time sped up, or virtual time (as fast as possible).

A clock gives monotonic seconds (schedule and `elapsed_s`), wall-clock
microseconds (`ts`), and an interruptible wait.  Tests inject `VirtualClock`
so the scheduler is checked without sleeping.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def wall_us(self) -> int: ...

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Wait up to `seconds` (clock time); True when `stop` was set."""
        ...


SLEEP_UNTIL_S = 0.25


def wait_real(seconds: float, stop: threading.Event) -> bool:
    """Wait `seconds` of real time unless `stop` is set first; True when it was set.

    Waits up to a quarter second sleep and look at `stop` after (at most 250 ms late): a wake from
    `time.sleep` costs about 95 µs of CPU here, from `Event.wait` about 140 µs, and the sampler and
    the consumers polling its queues wake 30 to 120 times a second.
    """
    if seconds <= 0:
        return stop.is_set()
    if seconds <= SLEEP_UNTIL_S:
        time.sleep(seconds)
        return stop.is_set()
    return stop.wait(seconds)


def machine_clocks() -> dict[str, int]:
    """REALTIME, MONOTONIC and BOOTTIME in ns, read back to back (a few µs apart): what a trace viewer
    needs to place samples stamped on the wall clock next to a trace stamped on a boot clock."""
    readings = {"realtime_ns": time.clock_gettime_ns(time.CLOCK_REALTIME),
                "monotonic_ns": time.clock_gettime_ns(time.CLOCK_MONOTONIC)}
    if hasattr(time, "CLOCK_BOOTTIME"):  # Linux only
        readings["boottime_ns"] = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    return readings


class RealClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall_us(self) -> int:
        return time.time_ns() // 1000

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        return wait_real(seconds, stop)


class ScaledClock:
    """Real time multiplied by `speed`: a simulated hour at speed 60 takes a minute."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._mono0 = time.monotonic()
        self._wall0_us = time.time_ns() // 1000

    def monotonic(self) -> float:
        return self._mono0 + (time.monotonic() - self._mono0) * self.speed

    def wall_us(self) -> int:
        return self._wall0_us + round((self.monotonic() - self._mono0) * 1e6)

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        return wait_real(seconds / self.speed, stop)


class VirtualClock:
    """Time that only moves when waited on: runs as fast as the work allows."""

    def __init__(self, start_wall_us: int | None = None, start: float = 0.0) -> None:
        self._now = start
        self._start = start
        self._wall0_us = time.time_ns() // 1000 if start_wall_us is None else start_wall_us

    def monotonic(self) -> float:
        return self._now

    def wall_us(self) -> int:
        return self._wall0_us + round((self._now - self._start) * 1e6)

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        if seconds > 0:
            self._now += seconds
        return stop.is_set()
