"""`FakeNvml`: a scripted, deterministic NVML backend for tests and demos.

Each `FakeGpu` has static facts and a reading per field: a constant, or a
callable of the GPU's tick number (0 for its first sampling round).  Each GPU
has its own tick (`ticks[index]`), advanced by `begin_tick(index)`, which a
`GpuDevice` calls once per read; so a GPU that hangs stays at its tick while
the others, read by another thread, go on.

Faults can be injected per GPU: no driver at all, a field that is not
supported, a GPU lost from tick k on, a field that fails with an unexpected
error on some ticks, and a read that hangs at tick k (until released, or for
some seconds) so a sampler's time-outs can be tested.

GPM metrics are scripted per GPU (`gpm`: field -> script, a missing field is None; None: the GPU
has no GPM); `gpm_sample` gives the values at the GPU's tick, None on its first call.

A GPU's process list is scripted too (`processes`: a list, or a callable of the
tick), with per-process utilization (`process_util`; None: not supported).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from collectors.nvml import (
    FIELDS,
    GPM_FIELDS,
    DeviceInfo,
    FieldNotSupported,
    GpuLost,
    GpuProcess,
    NvmlError,
    NvmlUnavailable,
    Value,
)

Script = Value | Callable[[int], Value]
ProcessScript = Sequence[GpuProcess] | Callable[[int], Sequence[GpuProcess]]
GIB = 1024**3


def default_readings() -> dict[str, Script]:
    """A busy, healthy GPU: constants, and an energy counter growing 150 J per tick."""
    return {
        "util_pct": 50.0, "mem_util_pct": 20.0, "mem_used_bytes": 8 * GIB,
        "temp_c": 60.0, "power_w": 150.0, "energy_j": lambda tick: 150.0 * tick,
        "clock_sm_mhz": 1800.0, "clock_mem_mhz": 9501.0, "fan_pct": 40.0, "pstate": 0,
        "throttle_reasons": 0, "violation_power_s": 0.0, "violation_thermal_s": 0.0,
    }


def default_gpm() -> dict[str, Script]:
    """GPM of a Hopper GPU training steadily."""
    return {
        "sm_active_pct": 45.0, "sm_occupancy_pct": 30.0, "tensor_active_pct": 25.0, "dram_bw_util_pct": 35.0,
        "fp16_active_pct": 5.0, "fp32_active_pct": 10.0, "fp64_active_pct": 0.0,
        "pcie_rx_bps": 2.0e9, "pcie_tx_bps": 1.0e9, "nvlink_rx_bps": 50.0e9, "nvlink_tx_bps": 50.0e9,
    }


@dataclass
class FakeGpu:
    """One scripted GPU.  `readings` overrides `default_readings()` field by field."""

    name: str = "NVIDIA Fake GPU"
    uuid: str | None = None  # None: derived from the index, "GPU-00000000-0000-...-00000000000i"
    memory_total_bytes: int | None = 24 * GIB
    power_limit_w: float | None = 300.0
    temp_limit_c: float | None = 87.0
    readings: Mapping[str, Script] = field(default_factory=dict)
    unsupported: Collection[str] = ()
    lost_at_tick: int | None = None
    processes: ProcessScript = ()
    process_util: Mapping[int, tuple[float | None, float | None]] | None = None
    gpm: Mapping[str, Script] | None = field(default_factory=default_gpm)


class FakeHang:
    """A scheduled hang: `started` is set when a read begins blocking; `release()` lets it go."""

    def __init__(self, index: int, at_tick: int, field_name: str | None, seconds: float | None) -> None:
        self.index, self.at_tick, self.field, self.seconds = index, at_tick, field_name, seconds
        self.started = threading.Event()
        self.released = threading.Event()
        self.fired = False

    def release(self) -> None:
        self.released.set()


class FakeNvml:
    """`NvmlBackend` with scripted GPUs.  `calls[(index, field)]` counts `read_field` calls.

    Safe to read from several threads, one at a time per GPU (as `GpuCollector.threaded`
    does): the per-GPU state is that GPU's own, the shared call counter takes a lock."""

    def __init__(self, gpus: Sequence[FakeGpu] | int = 1, *, driver_version: str = "555.42.06",
                 no_driver: bool = False) -> None:
        specs = [FakeGpu() for _ in range(gpus)] if isinstance(gpus, int) else list(gpus)
        self.driver = driver_version
        self.no_driver = no_driver
        self.ticks = [0] * len(specs)  # per GPU: its sampling round, 0 until its second begin_tick
        self.initialised = False
        self.init_calls = 0
        self.calls: Counter[tuple[int, str]] = Counter()
        self._calls_lock = threading.Lock()
        self._gpus = specs
        self._readings: list[dict[str, Script]] = []
        for gpu in specs:
            readings = default_readings()
            readings.update(mem_total_bytes=gpu.memory_total_bytes, power_limit_w=gpu.power_limit_w,
                            temp_limit_c=gpu.temp_limit_c)
            readings.update(gpu.readings)
            self._readings.append(readings)
        self.uuids = [gpu.uuid or f"GPU-00000000-0000-0000-0000-{i:012x}" for i, gpu in enumerate(specs)]
        self._unsupported = {(i, f) for i, gpu in enumerate(specs) for f in gpu.unsupported}
        self._lost_at = {i: gpu.lost_at_tick for i, gpu in enumerate(specs) if gpu.lost_at_tick is not None}
        self._failures: dict[tuple[int, str], tuple[frozenset[int] | None, str]] = {}
        self._hangs: list[FakeHang] = []
        self._started: set[int] = set()
        self.gpm_samples = [0] * len(specs)  # per GPU: gpm_sample calls that took a sample

    # ----- fault injection -------------------------------------------------------------
    def set_unsupported(self, index: int, field_name: str) -> None:
        """`read_field(index, field_name)` raises FieldNotSupported."""
        self._unsupported.add((index, field_name))

    def lose_gpu(self, index: int, at_tick: int = 0) -> None:
        """From tick `at_tick` on, every call about GPU `index` raises GpuLost."""
        self._lost_at[index] = at_tick

    def fail(self, index: int, field_name: str, ticks: Iterable[int] | None = None,
             message: str = "Unknown Error") -> None:
        """`read_field` raises a plain NvmlError at `ticks` (every tick when None)."""
        self._failures[(index, field_name)] = (None if ticks is None else frozenset(ticks), message)

    def hang(self, index: int, at_tick: int, *, field_name: str | None = None,
             seconds: float | None = None) -> FakeHang:
        """The first read of GPU `index` (of `field_name`, if given) at tick `at_tick` blocks
        until released, or for `seconds`; later reads are normal."""
        hang = FakeHang(index, at_tick, field_name, seconds)
        self._hangs.append(hang)
        return hang

    def release_all(self) -> None:
        for hang in self._hangs:
            hang.release()

    # ----- NvmlBackend ---------------------------------------------------------------
    def init(self) -> None:
        self.init_calls += 1
        if self.no_driver:
            raise NvmlUnavailable("Driver Not Loaded")
        self.initialised = True

    def shutdown(self) -> None:
        self.initialised = False
        self.release_all()  # never leave a reader thread blocked behind a closed backend

    def _ensure(self) -> None:
        if not self.initialised:
            self.init()

    def driver_version(self) -> str | None:
        self._ensure()
        return self.driver

    def device_count(self) -> int:
        self._ensure()
        return len(self._gpus)

    def _check_device(self, index: int) -> None:
        if not 0 <= index < len(self._gpus):
            raise GpuLost(f"no device {index}")
        lost_at = self._lost_at.get(index)
        if lost_at is not None and self.ticks[index] >= lost_at:
            raise GpuLost("GPU is lost")

    def device_info(self, index: int) -> DeviceInfo:
        self._ensure()
        self._check_device(index)
        gpu = self._gpus[index]
        return DeviceInfo(index=index, name=gpu.name, uuid=self.uuids[index], memory_total_bytes=gpu.memory_total_bytes,
                          power_limit_w=gpu.power_limit_w, temp_limit_c=gpu.temp_limit_c)

    def begin_tick(self, index: int) -> None:
        if index in self._started:
            self.ticks[index] += 1
        self._started.add(index)

    def read_field(self, index: int, field_name: str) -> Value:
        with self._calls_lock:
            self.calls[(index, field_name)] += 1
        self._ensure()
        self._check_device(index)
        tick = self.ticks[index]
        for hang in self._hangs:
            if (not hang.fired and hang.index == index and hang.at_tick == tick
                    and hang.field in (None, field_name)):
                hang.fired = True
                hang.started.set()
                hang.released.wait(hang.seconds)
        if (index, field_name) in self._unsupported or field_name not in FIELDS:
            raise FieldNotSupported("Not Supported")
        failure = self._failures.get((index, field_name))
        if failure is not None and (failure[0] is None or tick in failure[0]):
            raise NvmlError(failure[1])
        script = self._readings[index].get(field_name)
        return script(tick) if callable(script) else script

    def processes(self, index: int) -> list[GpuProcess]:
        with self._calls_lock:
            self.calls[(index, "processes")] += 1
        self._ensure()
        self._check_device(index)
        script = self._gpus[index].processes
        return list(script(self.ticks[index]) if callable(script) else script)

    def process_utilization(self, index: int) -> dict[int, tuple[float | None, float | None]]:
        with self._calls_lock:
            self.calls[(index, "process_utilization")] += 1
        self._ensure()
        self._check_device(index)
        util = self._gpus[index].process_util
        if util is None:
            raise FieldNotSupported("Not Supported")
        return dict(util)

    def gpm_sample(self, index: int) -> dict[str, float | None] | None:
        with self._calls_lock:
            self.calls[(index, "gpm_sample")] += 1
        self._ensure()
        self._check_device(index)
        gpm = self._gpus[index].gpm
        if gpm is None:
            raise FieldNotSupported("this GPU has no GPM")
        self.gpm_samples[index] += 1
        if self.gpm_samples[index] < 2:
            return None
        tick = self.ticks[index]
        values = {name: gpm.get(name) for name in GPM_FIELDS}
        return {name: script(tick) if callable(script) else script for name, script in values.items()}
