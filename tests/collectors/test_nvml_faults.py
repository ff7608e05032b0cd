"""NVML faults mid-run, through the sampler on a virtual clock: random errors, a 5 s hang, a lost GPU.

In every case the sampler keeps its schedule (frames on every tick, no lag),
the CPU keeps its readings, and the GPUs that are not at fault keep theirs.
Nothing here depends on wall-clock speed: the schedule is virtual time (the
GPU reader threads follow the sampler's virtual clock), and a hang is held
open by the test (an event), not by a sleep.
"""

from __future__ import annotations

import random
import threading

import pytest

from collectors import background
from collectors.background import BackgroundCollector
from collectors.base import Collector, Reading
from collectors.clock import VirtualClock
from collectors.fake_nvml import FakeGpu, FakeNvml
from collectors.gpu import GpuCollector
from collectors.nvml import FIELDS
from collectors.sampler import END, Sampler
from tests.waiting import wait_sync

HZ = 10
SCRIPTED = [f for f in FIELDS if f not in ("mem_total_bytes", "power_limit_w", "temp_limit_c")]


class Cpu(Collector):
    """The CPU side: a reading every tick, numbered."""

    name = "cpu"

    def __init__(self) -> None:
        super().__init__()
        self.ticks = 0

    def read(self, elapsed_s: float) -> Reading:
        self.ticks += 1
        return {"cpu_util_pct": float(self.ticks)}


def scripted_gpus(count: int) -> FakeNvml:
    """GPUs whose every reading names its GPU and tick, so a value from the wrong tick shows."""
    return FakeNvml([FakeGpu(readings={f: (lambda t, i=i: float(1000 * i + t)) for f in SCRIPTED})
                     for i in range(count)])


def run_sampler(collectors: list[Collector], seconds: float, clock: VirtualClock | None = None):
    sampler = Sampler(collectors, hz=HZ, clock=clock or VirtualClock(), duration_s=seconds)
    frames = sampler.subscribe(maxsize=0)
    sampler.run_inline()
    received = []
    while (batch := frames.get(timeout=0)) is not END and batch is not None:
        received.append(batch.frame)
    return sampler, received


def assert_on_schedule(frames: list[dict], seconds: float) -> None:
    assert len(frames) == int(seconds * HZ)
    assert [round(f["elapsed_s"], 6) for f in frames] == [round(k / HZ, 6) for k in range(len(frames))]
    assert all(f["sample_lag_ms"] == 0 for f in frames)
    assert [f["cpu_util_pct"] for f in frames] == [float(k + 1) for k in range(len(frames))]


@pytest.mark.parametrize("seed", [1, 7, 42])
def test_random_nvml_errors_null_only_the_failing_readings(seed):
    rng = random.Random(seed)
    fake = scripted_gpus(3)
    ticks = 100
    failing: dict[tuple[int, str], set[int]] = {}
    for _ in range(12):  # twelve (gpu, field) pairs fail on random ticks, with random NVML messages
        key = (rng.randrange(3), rng.choice(SCRIPTED))
        failing.setdefault(key, set()).update(rng.sample(range(ticks), rng.randint(1, 30)))
    for (index, name), at in failing.items():
        fake.fail(index, name, ticks=at, message=rng.choice(["Unknown Error", "Timeout", "Insufficient Resources"]))
    sampler, frames = run_sampler([Cpu(), GpuCollector(fake, [0, 1, 2])], ticks / HZ)
    assert_on_schedule(frames, ticks / HZ)
    for tick, frame in enumerate(frames):
        for index in range(3):
            for name in SCRIPTED:
                expected = None if tick in failing.get((index, name), ()) else float(1000 * index + tick)
                assert frame[f"gpu{index}_{name}"] == expected, (tick, index, name)
    failed_fields = {name for _, name in failing}
    nvml_notices = [n for n in sampler.stats.notices if n.startswith("nvml: ")]
    assert len(nvml_notices) == len(failed_fields)  # told once per field, not once per tick


def test_a_gpu_lost_mid_run_goes_null_and_the_others_keep_sampling():
    fake = scripted_gpus(3)
    fake.lose_gpu(1, at_tick=20)
    sampler, frames = run_sampler([Cpu(), GpuCollector(fake, [0, 1, 2])], 6.0)
    assert_on_schedule(frames, 6.0)
    for tick, frame in enumerate(frames):
        assert frame["gpu0_util_pct"] == float(tick) and frame["gpu2_util_pct"] == float(2000 + tick)
        assert frame["gpu1_util_pct"] == (float(1000 + tick) if tick < 20 else None)
        if tick >= 20:
            assert all(frame[f"gpu1_{name}"] is None for name in FIELDS)
    assert [n for n in sampler.stats.notices if "lost" in n] == ["nvml: gpu1 lost: GPU is lost"]


class SteppedClock(VirtualClock):
    """The sampler's virtual clock; it tells the GPU reader threads each time it moves."""

    def __init__(self) -> None:
        super().__init__()
        self.moved = threading.Condition()

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        with self.moved:
            stopped = super().wait(seconds, stop)
            self.moved.notify_all()
        return stopped


class Follower:
    """A reader thread's clock: the sampler's time, and a wait that lasts until the sampler has moved it
    that far (the real-time bound only lets a stopped thread notice its stop)."""

    def __init__(self, leader: SteppedClock) -> None:
        self._leader = leader

    def monotonic(self) -> float:
        return self._leader.monotonic()

    def wall_us(self) -> int:
        return self._leader.wall_us()

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        target = self._leader.monotonic() + seconds - 1e-9
        with self._leader.moved:
            while not stop.is_set() and self._leader.monotonic() < target:
                self._leader.moved.wait(0.05)
        return stop.is_set()


class Lockstep(Collector):
    """First in the sampler's list: each tick starts once the healthy GPUs' threads have read it (so
    "fresh" is decided by the schedule, not by how fast the threads happen to run)."""

    name = "lockstep"

    def __init__(self, clock: SteppedClock, readers: list[BackgroundCollector]) -> None:
        super().__init__()
        self._clock, self._readers = clock, readers

    def read(self, elapsed_s: float) -> Reading:
        now = self._clock.monotonic() - 1e-9
        wait_sync(lambda: all(r.reading_time is not None and r.reading_time >= now for r in self._readers),
                  what=f"the readings of {now:.1f} s")
        return {}


def test_a_5_s_hang_on_one_gpu_nulls_it_once_stale_while_the_others_stay_fresh_every_tick():
    """gpu1's reader thread hangs in one NVML call for 5 s of sampler time; the sampler never waits on
    it, gpu0 and gpu2 (each in its own thread) give a new reading on every tick, gpu1's last reading is
    held until it is 2 s old, then null, told once."""
    clock = SteppedClock()
    fake = scripted_gpus(3)
    hang = fake.hang(1, at_tick=1, field_name="power_w")
    gpus = GpuCollector(fake, [0, 1, 2]).threaded(HZ, stale_after_s=2.0, clock=Follower(clock))
    try:
        assert sorted(t.name for t in threading.enumerate() if t.name.startswith("rigscope-nvml")) == [
            "rigscope-nvml-gpu0", "rigscope-nvml-gpu1", "rigscope-nvml-gpu2"]  # one thread per GPU
        wait_sync(lambda: all(r.reading_time is not None for r in gpus.readers.values()), what="first readings")
        healthy = [gpus.readers["gpu0"], gpus.readers["gpu2"]]
        sampler, frames = run_sampler([Lockstep(clock, healthy), Cpu(), gpus], 5.0, clock)
        assert_on_schedule(frames, 5.0)
        assert hang.started.is_set()
        for tick, frame in enumerate(frames):
            assert frame["gpu0_util_pct"] == float(tick) and frame["gpu2_util_pct"] == float(2000 + tick)
            assert frame["gpu2_power_w"] == float(2000 + tick)  # every field of that tick's own reading
            held = frame["elapsed_s"] <= 2.0  # gpu1's last reading is from virtual time 0
            assert frame["gpu1_util_pct"] == (1000.0 if held else None), frame["elapsed_s"]
            if not held:
                assert all(frame[f"gpu1_{name}"] is None for name in FIELDS)
        stalls = [n for n in sampler.stats.notices if "stalled" in n]
        assert stalls == ["nvml: gpu1 no reading for 2.1 s (stalled); values are null until it answers"]
        assert fake.ticks == [49, 1, 49]  # gpu1 was not asked again while it hung; the others every tick
        hang.release()
        wait_sync(lambda: gpus.read(clock.monotonic()).get("gpu1_util_pct") is not None,
                  what="fresh gpu1 readings after the hang")
        assert gpus.read(clock.monotonic())["gpu1_util_pct"] >= 1001.0  # a later tick's reading
        assert gpus.drain_notices() == []  # recovering is not a new stall
    finally:
        fake.release_all()
        gpus.close()
    assert not fake.initialised  # NVML shut down once every reader thread had stopped


def test_closing_leaves_nvml_up_while_a_call_still_hangs(monkeypatch):
    monkeypatch.setattr(background, "CLOSE_WAIT_S", 0.05)
    fake = scripted_gpus(2)
    hang = fake.hang(1, at_tick=0)
    gpus = GpuCollector(fake, [0, 1]).threaded(HZ)
    try:
        assert hang.started.wait(10)
        gpus.close()
        assert fake.initialised  # no nvmlShutdown under a call that has not returned
    finally:
        hang.release()
