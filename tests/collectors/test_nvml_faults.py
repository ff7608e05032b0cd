"""NVML faults mid-run, through the sampler on a virtual clock: random errors, a 5 s hang, a lost GPU.

In every case the sampler keeps its schedule (frames on every tick, no lag),
the CPU keeps its readings, and the GPUs that are not at fault keep theirs.
Nothing here depends on wall-clock speed: the schedule is virtual time, and a
hang is held open by the test (an event), not by a sleep.
"""

from __future__ import annotations

import random

import pytest

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


def test_a_5_s_hang_makes_the_gpus_stale_then_null_while_the_cpu_keeps_its_schedule():
    """The NVML thread hangs in one call for 5 s of sampler time; the sampler never waits on it."""
    clock = VirtualClock()
    fake = scripted_gpus(2)
    hang = fake.hang(1, at_tick=1, field_name="power_w")
    background = BackgroundCollector(GpuCollector(fake, [0, 1]), hz=HZ, stale_after_s=2.0, now=clock.monotonic)
    try:
        assert hang.started.wait(10)  # tick 0 published at virtual time 0, tick 1 is blocked
        cpu = Cpu()
        # 5 s of sampler time while the NVML call hangs: every tick on time, the CPU read every tick.
        sampler, frames = run_sampler([cpu, background], 5.0, clock)
        assert_on_schedule(frames, 5.0)
        for frame in frames:
            age = frame["elapsed_s"]  # the last NVML reading is from virtual time 0
            for index in (0, 1):
                expected = float(1000 * index) if age <= 2.0 else None  # held, then stale: null
                assert frame[f"gpu{index}_util_pct"] == expected, frame["elapsed_s"]
        stalls = [n for n in sampler.stats.notices if "stalled" in n]
        assert len(stalls) == 1 and stalls[0].startswith("nvml: no reading for 2.1 s")
        assert fake.tick == 1  # NVML was not called again while it hung
        hang.release()
        wait_sync(lambda: background.read(clock.monotonic()).get("gpu1_util_pct") is not None,
                  what="fresh NVML readings after the hang")
        assert background.read(clock.monotonic())["gpu0_util_pct"] >= 1.0  # a later tick's reading
    finally:
        fake.release_all()
        background.close()
