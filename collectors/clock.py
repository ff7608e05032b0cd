"""Clocks the sampler runs on: real time, real time sped up, or virtual time (as fast as possible).

A clock gives monotonic seconds (schedule and `elapsed_s`), wall-clock
microseconds (`ts`), and an interruptible wait.  Tests inject `VirtualClock`
so the scheduler is checked without sleeping.  The wall clock may step (NTP, a
resumed VM): `StepDetector` finds the steps in the samples, `ClockShifts` maps
wall times onto the session's monotonic time.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from collections.abc import Iterable
from typing import Any, Protocol

from collectors.event_kinds import EventKind


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


STEP_S = 1.0  # a wall clock that moved this much more (or less) than the monotonic one has stepped


class StepDetector:
    """Finds steps of the wall clock (NTP, a resumed VM) in a stream of samples.

    Each sample has a wall time (`ts`, µs) and a monotonic one (`elapsed_s`); between two samples
    both should advance alike.  When they differ by more than `STEP_S`, the wall clock stepped by
    the difference.
    """

    def __init__(self, threshold_s: float = STEP_S) -> None:
        self.threshold_us = threshold_s * 1e6
        self._offset_us: float | None = None  # wall minus monotonic time of the last sample

    def check(self, ts_us: int, elapsed_s: float) -> float | None:
        """The step in seconds (negative: back) since the previous sample, or None."""
        offset = ts_us - elapsed_s * 1e6
        previous, self._offset_us = self._offset_us, offset
        if previous is None or abs(offset - previous) <= self.threshold_us:
            return None
        return round((offset - previous) / 1e6, 6)


class ClockShifts:
    """How far the wall clock ran ahead of a session's monotonic time, from its clock steps in order.

    Times are seconds since the first sample: `elapsed_s` on the monotonic clock, wall seconds from
    `ts`.  Between two steps the wall clock is ahead by the steps so far."""

    def __init__(self, steps: Iterable[tuple[float, float]] = ()) -> None:
        """`steps`: (elapsed_s, step_s) of each step, in order."""
        self.starts, self.shifts = [0.0], [0.0]
        for at, step in steps:
            self.starts.append(at)
            self.shifts.append(self.shifts[-1] + step)

    @classmethod
    def of_events(cls, events: Iterable[dict[str, Any]]) -> ClockShifts:
        """From a session's `clock_step` events (others and malformed ones are left out)."""
        return cls((float(e["elapsed_s"]), float(e["step_s"])) for e in events if e.get("kind") == EventKind.CLOCK_STEP
                   and all(isinstance(e.get(k), (int, float)) and not isinstance(e.get(k), bool)
                           for k in ("elapsed_s", "step_s")))

    def __bool__(self) -> bool:
        return len(self.starts) > 1

    def at(self, elapsed_s: float) -> float:
        """The wall clock's lead (s) at a moment of the session."""
        return self.shifts[max(0, bisect_right(self.starts, elapsed_s) - 1)]

    def elapsed_of(self, wall_s: float) -> float:
        """The moment of the session of a wall time: the first stretch between steps where it lands
        (after a step back, a wall time can belong to two), else less the last lead."""
        ends = [*self.starts[1:], float("inf")]
        for since, until, shift in zip(self.starts, ends, self.shifts):
            if since <= wall_s - shift < until:
                return wall_s - shift
        return wall_s - self.shifts[-1]
