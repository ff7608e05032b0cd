"""NVML faults mid-run, through the sampler on a virtual clock: random errors, a 5 s hang, a lost GPU.

In every case the sampler keeps its schedule (frames on every tick, no lag),
the CPU keeps its readings, and the GPUs that are not at fault keep theirs.
Nothing here depends on wall-clock speed: the schedule is virtual time (the
GPU reader threads follow the sampler's virtual clock), and a hang is held
open by the test (an event), not by a sleep.

The lost-GPU and hang tests run twice: over `FakeNvml`, and (marked ``nvml_abi``) over the real
pynvml and backend loading the mock libnvidia-ml, whose GPUs count their sampling rounds as the
fake's do, and whose hang the test releases.  The random-errors test stays on the fake: it fails single fields
that share one NVML call with others, which only the fake can express.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest

from collectors import background
from collectors.background import BackgroundGroup
from collectors.base import Collector, Reading
from collectors.clock import VirtualClock
from collectors.fake_nvml import FakeGpu, FakeNvml
from collectors.gpu import GpuCollector
from collectors.nvml import FIELDS
from collectors.sampler import Sampler
from collectors.stream import END, LossyQueue
from tests.nvml_mock.fixtures import mock_backend, nvml_mock_library  # noqa: F401  (fixtures)
from tests.nvml_mock.scenario import GPU_IS_LOST, SERIES, Scenario
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


def scripted(index: int, tick: int) -> float:
    """Every reading of the scripted GPUs names its GPU and tick, so a value from the wrong tick shows."""
    return float(1000 * (index + 1) + tick)


def scripted_gpus(count: int) -> FakeNvml:
    return FakeNvml([FakeGpu(readings={f: (lambda t, i=i: scripted(i, t)) for f in SCRIPTED}) for i in range(count)])


class FakeGpus:
    """The scripted GPUs as `FakeNvml`, with a GPU lost or hung at a tick."""

    def __init__(self, count: int, lost: tuple[int, int] | None = None, hung: tuple[int, int] | None = None) -> None:
        self.backend = scripted_gpus(count)
        if lost:
            self.backend.lose_gpu(lost[0], at_tick=lost[1])
        self._hang = self.backend.hang(hung[0], at_tick=hung[1], field_name="power_w") if hung else None

    def hang_started(self) -> bool:
        return self._hang is not None and self._hang.started.is_set()

    def release(self) -> None:
        self.backend.release_all()


class MockGpus:
    """The same GPUs as `FakeGpus`, as the real backend over the mock library (power hangs, everything is lost).
    Like the fake, a GPU's tick is its sampling round: the mock counts its utilization calls (one a round)."""

    def __init__(self, make, count: int, lost: tuple[int, int] | None = None, hung: tuple[int, int] | None = None,
                 ticks: int = 100) -> None:
        by_field = {field: (key, divisor) for key, (field, divisor) in SERIES.items()}
        fixed = {"mem_total": 80 * 1024**3, "power_limit_mw": 700_000, "temp_slowdown": 87}
        gpus = [{"series": {**fixed, **{by_field[f][0]: [scripted(i, t) * by_field[f][1] for t in range(ticks)]
                                        for f in SCRIPTED}}} for i in range(count)]
        if lost:
            gpus[lost[0]]["faults"] = [{"function": "*", "code": GPU_IS_LOST, "from": lost[1]}]
        if hung:
            gpus[hung[0]]["hangs"] = [{"function": "nvmlDeviceGetPowerUsage", "from": hung[1]}]
        self._hung = hung[0] if hung else None
        self.scenario: Scenario
        self.scenario, self.backend = make(gpus, rounds_of="nvmlDeviceGetUtilizationRates")

    def hang_started(self) -> bool:
        return self._hung is not None and self.scenario.hang_started(self._hung)

    def release(self) -> None:
        if self._hung is not None:
            self.scenario.release(self._hung)


@pytest.fixture(params=["fake", pytest.param("mock", marks=pytest.mark.nvml_abi)])
def gpus_on(request: pytest.FixtureRequest) -> Callable[..., FakeGpus | MockGpus]:
    if request.param == "fake":
        return FakeGpus
    make = request.getfixturevalue("mock_backend")
    return lambda *args, **kwargs: MockGpus(make, *args, **kwargs)


def run_sampler(collectors: list[Collector], seconds: float, clock: VirtualClock | None = None):
    sampler = Sampler(collectors, hz=HZ, clock=clock or VirtualClock(), duration_s=seconds)
    frames = sampler.attach(LossyQueue(0))
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
                expected = None if tick in failing.get((index, name), ()) else scripted(index, tick)
                assert frame[f"gpu{index}_{name}"] == expected, (tick, index, name)
    failed_fields = {name for _, name in failing}
    nvml_notices = [n for n in sampler.stats.notices if n.startswith("nvml: ")]
    assert len(nvml_notices) == len(failed_fields)  # told once per field, not once per tick


def test_a_gpu_lost_mid_run_goes_null_and_the_others_keep_sampling(gpus_on):
    gpus = gpus_on(3, lost=(1, 20))
    sampler, frames = run_sampler([Cpu(), GpuCollector(gpus.backend, [0, 1, 2])], 6.0)
    assert_on_schedule(frames, 6.0)
    for tick, frame in enumerate(frames):
        assert frame["gpu0_util_pct"] == scripted(0, tick) and frame["gpu2_util_pct"] == scripted(2, tick)
        assert frame["gpu1_util_pct"] == (scripted(1, tick) if tick < 20 else None)
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
    """First in the sampler's list: tick k starts once the GPUs of `waits_for(k)` have been read at that
    tick (so what "fresh" means is decided by the schedule, not by how fast the threads happen to run)."""

    name = "lockstep"

    def __init__(self, clock: SteppedClock, gpus: BackgroundGroup, waits_for: Callable[[int], list[str]]) -> None:
        super().__init__()
        self._clock, self._gpus, self._waits_for = clock, gpus, waits_for
        self._tick = 0

    def read(self, elapsed_s: float) -> Reading:
        now, labels = self._clock.monotonic() - 1e-9, self._waits_for(self._tick)
        self._tick += 1

        def read_now() -> bool:
            return all((t := self._gpus.reading_time(label)) is not None and t >= now for label in labels)

        wait_sync(read_now, what=f"the readings of {labels} at {now:.1f} s")
        return {}


def test_a_5_s_hang_on_one_gpu_nulls_it_once_stale_while_the_others_stay_fresh_every_tick(gpus_on):
    """gpu1's NVML call hangs for 5 s of sampler time.  The sampler never waits on it; the reader
    thread stays with gpu1 and, 0.25 s into the hang, a new one takes over gpu0 and gpu2, which give
    a new reading on every tick from then on; gpu1's last reading is held until 2 s old, then null,
    told once."""
    rig = gpus_on(3, hung=(1, 1))
    clock = SteppedClock()
    gpus = GpuCollector(rig.backend, [0, 1, 2]).threaded(HZ, stale_after_s=2.0, clock=Follower(clock),
                                                  takeover_after_s=0.25)
    try:
        wait_sync(lambda: all(gpus.reading_time(g) is not None for g in ("gpu0", "gpu1", "gpu2")), what="tick 0")
        assert gpus.reader_threads == 1  # the common case: one thread for every GPU

        def waits_for(tick: int) -> list[str]:
            # tick 1: gpu0 is read, then gpu1 hangs; by tick 4 the call is 0.3 s old: a new reader
            # starts, after that tick's row was taken; from tick 5 on it reads gpu0 and gpu2 every tick.
            return ["gpu0"] if tick == 1 else ["gpu0", "gpu2"] if tick >= 5 else []

        sampler, frames = run_sampler([Lockstep(clock, gpus, waits_for), Cpu(), gpus], 5.0, clock)
        assert_on_schedule(frames, 5.0)
        assert rig.hang_started() and gpus.reader_threads == 2  # one inside gpu1's call, one for the others
        for tick, frame in enumerate(frames[:5]):
            assert frame["gpu0_util_pct"] == scripted(0, min(tick, 1)) and frame["gpu2_util_pct"] == scripted(2, 0)
        for earlier, frame in zip(frames[4:], frames[5:]):
            for name in SCRIPTED:  # every field of a reading of that very tick
                assert frame[f"gpu0_{name}"] > earlier[f"gpu0_{name}"]
                assert frame[f"gpu2_{name}"] > earlier[f"gpu2_{name}"]
        for frame in frames:
            held = frame["elapsed_s"] <= 2.0  # gpu1's last reading is from virtual time 0
            assert frame["gpu1_util_pct"] == (scripted(1, 0) if held else None), frame["elapsed_s"]
            if not held:
                assert all(frame[f"gpu1_{name}"] is None for name in FIELDS)
        stalls = [n for n in sampler.stats.notices if "stalled" in n]
        assert stalls == ["nvml: gpu1 no reading for 2.1 s (stalled); values are null until it answers"]
        if isinstance(rig.backend, FakeNvml):
            assert rig.backend.ticks[1] == 1  # gpu1 was not asked again while it hung
        rig.release()
        wait_sync(lambda: gpus.read(clock.monotonic()).get("gpu1_util_pct") is not None,
                  what="fresh gpu1 readings after the hang")
        assert gpus.read(clock.monotonic())["gpu1_util_pct"] >= scripted(1, 1)  # a later tick's reading
        assert gpus.drain_notices() == []  # recovering is not a new stall
        wait_sync(lambda: gpus.reader_threads == 1, what="the retired reader to end")
    finally:
        rig.release()
        gpus.close()
    if isinstance(rig.backend, FakeNvml):
        assert not rig.backend.initialised  # NVML shut down once every reader thread had stopped


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
