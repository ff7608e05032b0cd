"""The phased clock of `rigscope run` on the simulated source: held, fast to a barrier, then real time."""

from __future__ import annotations

import threading
import time

from collectors.phased_clock import PhasedClock
from collectors.ticker import Ticker
from tests.waiting import wait_sync


def test_virtual_phase_ends_at_its_barrier_and_real_time_follows():
    clock = PhasedClock(None, first_phase_s=30.0)
    assert clock.monotonic() == 0.0 and clock.wall_us() <= time.time_ns() // 1000 - 29_000_000  # set back by 30 s
    stop = threading.Event()
    ticks: list[float] = []

    def sample() -> None:
        for tick in Ticker(10.0, clock).ticks(stop):
            ticks.append(tick.elapsed_s)

    clock.go_fast(30.0)
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        wait_sync(clock.reached.is_set, what="the barrier")
        held = len(ticks)
        assert held == 301 and ticks[-1] == 30.0  # 0.0 .. 30.0 s at 10 Hz, then held
        assert clock.monotonic() == 30.0 and len(ticks) == held
        clock.go_real()
        # Real time from here: the wall time has caught up with the real one.
        assert clock.wall_us() >= time.time_ns() // 1000 - 500_000  # not 30 s behind
        wait_sync(lambda: len(ticks) > held, what="a tick in real time")
        clock.go_fast(5.0)
        wait_sync(clock.reached.is_set, what="the second barrier")
        barrier = clock.monotonic()
        assert barrier - 0.1 < ticks[-1] <= barrier  # the last slot before the barrier, then held
    finally:
        stop.set()
        sampler.join(5)
    assert not sampler.is_alive()  # stop releases a sampler held at a barrier
