"""A clock for `rigscope run` on the simulated source: fast through the idle phases, real time for the command.

The baseline and cooldown pass in virtual time (`speed` None: as fast as the sampler goes) or
sped up; while the command runs, the clock follows real time, because the command and the
probe events it sends live in real time. The clock's wall time is set back by the baseline, so
the command starts at the real time it is started at and probe tags land where they were
sent: when computing the fast phase took real time, the wall time jumps by as much at the
switch (a gap in `ts`, none in `elapsed_s`). A fast phase ends at a barrier: the sampler's wait stops there until the
next phase begins (or it is stopped), so a phase lasts exactly its clock seconds.
"""

from __future__ import annotations

import threading
import time

from collectors.clock import VirtualClock

_POLL_S = 0.005


class PhasedClock(VirtualClock):
    """Virtual (or `speed`-fold) time up to a barrier; real time between `go_real()` and the next `go_fast()`."""

    def __init__(self, speed: float | None, first_phase_s: float) -> None:
        """`speed` None: virtual time. The clock stands at 0 until `go_fast(first_phase_s)`; its wall time
        is set back by what that phase adds over real time."""
        real_length = first_phase_s / speed if speed else 0.0
        super().__init__(start_wall_us=time.time_ns() // 1000 - round((first_phase_s - real_length) * 1e6))
        self.speed = speed
        self._lock = threading.Lock()
        self._real = False
        self._base = 0.0  # clock seconds when the current phase began
        self._real0 = time.monotonic()  # real seconds then
        self._barrier: float | None = 0.0  # held at 0 until the first phase begins (go_fast)
        self.reached = threading.Event()  # set when the clock stands at the barrier

    def monotonic(self) -> float:
        with self._lock:
            if not self._real and self.speed is None:
                return self._now
            rate = 1.0 if self._real else self.speed
            assert rate is not None
            now = self._base + (time.monotonic() - self._real0) * rate
            return now if self._barrier is None else min(now, self._barrier)

    def wall_us(self) -> int:
        return self._wall0_us + round(self.monotonic() * 1e6)

    def go_fast(self, seconds: float) -> None:
        """A fast phase of `seconds` clock seconds from now; `reached` is set at its end."""
        self._switch(real=False, length=seconds)

    def go_real(self) -> None:
        """Real time from now on; the wall time catches up with the real one (the fast phase took some)."""
        self._switch(real=True, length=None)
        with self._lock:
            self._wall0_us += max(0, time.time_ns() // 1000 - (self._wall0_us + round(self._base * 1e6)))

    def _switch(self, real: bool, length: float | None) -> None:
        now = self.monotonic()
        with self._lock:
            self._now = self._base = now
            self._real0 = time.monotonic()
            self._real = real
            self._barrier = None if length is None else now + length
            self.reached.clear()

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        target = self.monotonic() + max(seconds, 0.0)
        while not stop.is_set():
            with self._lock:
                real, barrier = self._real, self._barrier
            goal = target if barrier is None else min(target, barrier)
            if not real and self.speed is None:
                self._advance_to(goal)
            remaining = goal - self.monotonic()
            if remaining > 0:
                stop.wait(min(remaining / (1.0 if real else self.speed or 1.0), 0.05))
                continue
            if goal == target:
                return stop.is_set()
            self.reached.set()
            stop.wait(_POLL_S)  # held at the barrier until the next phase begins, or stop
        return True

    def _advance_to(self, target: float) -> None:
        with self._lock:
            if not self._real and self.speed is None:
                self._now = max(self._now, target)
