"""The real PynvmlBackend against a faked ``pynvml`` module and against the real pynvml over the NVML mock.

Tests that take the `rig` fixture run twice: over the fake module, and (marked ``nvml_abi``) over
the unmodified pynvml loading the mock libnvidia-ml built from NVIDIA's nvml.h, with the same
readings.  Tests that count pynvml calls or change the module itself stay on the fake only.
"""

from __future__ import annotations

import sys
import types
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from collectors.gpu import GpuCollector, open_gpu_collector
from collectors.nvml import FIELDS, FieldNotSupported, GpuLost, NvmlBackend, NvmlError, NvmlUnavailable, PynvmlBackend
from tests.nvml_mock.fixtures import mock_backend, nvml_mock_library  # noqa: F401  (fixtures)

# Names and values as in nvml.h / pynvml (checked against the installed module below).
CONSTANTS = {
    "NVML_ERROR_UNINITIALIZED": 1, "NVML_ERROR_INVALID_ARGUMENT": 2, "NVML_ERROR_NOT_SUPPORTED": 3,
    "NVML_ERROR_NO_PERMISSION": 4, "NVML_ERROR_NOT_FOUND": 6, "NVML_ERROR_DRIVER_NOT_LOADED": 9,
    "NVML_ERROR_TIMEOUT": 10, "NVML_ERROR_LIBRARY_NOT_FOUND": 12, "NVML_ERROR_FUNCTION_NOT_FOUND": 13,
    "NVML_ERROR_GPU_IS_LOST": 15, "NVML_ERROR_RESET_REQUIRED": 16, "NVML_ERROR_LIB_RM_VERSION_MISMATCH": 18,
    "NVML_ERROR_UNKNOWN": 999,
    "NVML_TEMPERATURE_GPU": 0, "NVML_TEMPERATURE_THRESHOLD_SLOWDOWN": 1,
    "NVML_CLOCK_SM": 1, "NVML_CLOCK_MEM": 2, "NVML_PERF_POLICY_POWER": 0, "NVML_PERF_POLICY_THERMAL": 1,
    "NVML_PSTATE_UNKNOWN": 32,
}
C = types.SimpleNamespace(**{k.removeprefix("NVML_"): v for k, v in CONSTANTS.items()})
GIB = 1024**3


class FakeNVMLError(Exception):
    """Like pynvml.NVMLError: NVMLError(code) builds the subclass of that code; `.value` is the code."""

    classes: dict[int, type] = {}
    strings = {3: "Not Supported", 9: "Driver Not Loaded", 12: "NVML Shared Library Not Found",
               13: "Function Not Found", 15: "GPU is lost", 999: "Unknown Error"}

    def __new__(cls, value: int) -> FakeNVMLError:
        if cls is FakeNVMLError:
            cls = FakeNVMLError.classes.get(value, cls)
        obj = Exception.__new__(cls)
        obj.value = value  # type: ignore[attr-defined]
        return obj

    def __str__(self) -> str:
        return self.strings.get(self.value, f"NVML Error with code {self.value}")  # type: ignore[attr-defined]


def make_pynvml(devices: int = 2, init_error: int | None = None, drop: tuple[str, ...] = ()) -> Any:
    """A stand-in ``pynvml`` module.  `mod.errors[(function, index)] = code` makes a call fail;
    `mod.calls` counts calls per function name; `drop` leaves functions out of the module."""
    mod: Any = types.ModuleType("pynvml")
    mod.__dict__.update(CONSTANTS)
    mod.NVMLError = FakeNVMLError
    for name, code in CONSTANTS.items():
        if name.startswith("NVML_ERROR_"):
            words = name.removeprefix("NVML_ERROR_").title().replace("_", "")
            cls = type(f"NVMLError_{words}", (FakeNVMLError,), {})
            setattr(mod, cls.__name__, cls)
            FakeNVMLError.classes[code] = cls
    mod.calls = Counter()
    mod.errors = {}
    mod.initialised = 0

    def api(func: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            mod.calls[func.__name__] += 1
            index = args[0].index if args and isinstance(args[0], types.SimpleNamespace) else None
            code = mod.errors.get((func.__name__, index), mod.errors.get((func.__name__, None)))
            if code is not None:
                raise FakeNVMLError(code)
            return func(*args)

        if func.__name__ not in drop:
            setattr(mod, func.__name__, call)
        return call

    @api
    def nvmlInit() -> None:
        if init_error is not None:
            raise FakeNVMLError(init_error)
        mod.initialised += 1

    @api
    def nvmlShutdown() -> None:
        mod.initialised -= 1

    @api
    def nvmlSystemGetDriverVersion() -> bytes:
        return b"550.54.15"  # older pynvml releases return bytes

    @api
    def nvmlDeviceGetCount() -> int:
        return devices

    @api
    def nvmlDeviceGetHandleByIndex(index: int) -> types.SimpleNamespace:
        if not 0 <= index < devices:
            raise FakeNVMLError(C.ERROR_INVALID_ARGUMENT)
        return types.SimpleNamespace(index=index)

    @api
    def nvmlDeviceGetName(h: Any) -> bytes:
        return f"NVIDIA H100 80GB HBM3 #{h.index}".encode()

    @api
    def nvmlDeviceGetUUID(h: Any) -> bytes:
        return f"GPU-{h.index:08x}-1111-2222-3333-444455556666".encode()

    @api
    def nvmlDeviceGetMemoryInfo(h: Any) -> Any:
        return types.SimpleNamespace(total=80 * GIB, used=(10 + h.index) * GIB, free=(70 - h.index) * GIB)

    @api
    def nvmlDeviceGetUtilizationRates(h: Any) -> Any:
        return types.SimpleNamespace(gpu=97, memory=41)

    @api
    def nvmlDeviceGetTemperature(h: Any, sensor: int) -> int:
        assert sensor == C.TEMPERATURE_GPU
        return 71

    @api
    def nvmlDeviceGetTemperatureV(h: Any, sensor: int) -> int:
        return 72

    @api
    def nvmlDeviceGetTemperatureThreshold(h: Any, threshold: int) -> int:
        assert threshold == C.TEMPERATURE_THRESHOLD_SLOWDOWN
        return 87

    @api
    def nvmlDeviceGetPowerUsage(h: Any) -> int:
        return 312_345  # mW

    @api
    def nvmlDeviceGetEnforcedPowerLimit(h: Any) -> int:
        return 700_000  # mW

    @api
    def nvmlDeviceGetTotalEnergyConsumption(h: Any) -> int:
        return 123_456_789  # mJ

    @api
    def nvmlDeviceGetClockInfo(h: Any, clock: int) -> int:
        return {C.CLOCK_SM: 1980, C.CLOCK_MEM: 2619}[clock]

    @api
    def nvmlDeviceGetFanSpeed(h: Any) -> int:
        return 33

    @api
    def nvmlDeviceGetPerformanceState(h: Any) -> int:
        return 2

    @api
    def nvmlDeviceGetCurrentClocksEventReasons(h: Any) -> int:
        return 0x4 | (1 << 40)

    @api
    def nvmlDeviceGetCurrentClocksThrottleReasons(h: Any) -> int:
        return 0x8

    @api
    def nvmlDeviceGetViolationStatus(h: Any, policy: int) -> Any:
        ns = {C.PERF_POLICY_POWER: 2_500_000_000, C.PERF_POLICY_THERMAL: 125_000_000}[policy]
        return types.SimpleNamespace(referenceTime=0, violationTime=ns)

    # Process lists: mod.compute / mod.graphics[index] = [(pid, used bytes or None)],
    # mod.samples[index] = [(pid, timeStamp µs, smUtil, memUtil)].
    mod.compute, mod.graphics, mod.samples = {}, {}, {}

    def processes(table: dict[int, Any], h: Any) -> list[Any]:
        return [types.SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in table.get(h.index, [])]

    @api
    def nvmlDeviceGetComputeRunningProcesses(h: Any) -> list[Any]:
        return processes(mod.compute, h)

    @api
    def nvmlDeviceGetGraphicsRunningProcesses(h: Any) -> list[Any]:
        return processes(mod.graphics, h)

    @api
    def nvmlDeviceGetProcessUtilization(h: Any, since: int) -> list[Any]:
        mod.util_since = since
        found = [types.SimpleNamespace(pid=pid, timeStamp=ts, smUtil=sm, memUtil=mem, encUtil=0, decUtil=0)
                 for pid, ts, sm, mem in mod.samples.get(h.index, []) if ts > since]
        if not found:
            raise FakeNVMLError(C.ERROR_NOT_FOUND)
        return found

    return mod


@pytest.fixture
def fake_pynvml(monkeypatch: pytest.MonkeyPatch) -> Any:
    mod = make_pynvml()
    monkeypatch.setitem(sys.modules, "pynvml", mod)
    return mod


# pynvml's function -> the C entry point it calls, where pynvml picks a versioned one.
C_SYMBOL = {"nvmlDeviceGetComputeRunningProcesses": "nvmlDeviceGetComputeRunningProcesses_v3",
            "nvmlDeviceGetGraphicsRunningProcesses": "nvmlDeviceGetGraphicsRunningProcesses_v3",
            "nvmlDeviceGetCount": "nvmlDeviceGetCount_v2", "nvmlDeviceGetHandleByIndex": "nvmlDeviceGetHandleByIndex_v2"}


def mock_gpu(index: int) -> dict[str, Any]:
    """A mock scenario GPU that reads as `make_pynvml`'s device `index`."""
    return {"name": f"NVIDIA H100 80GB HBM3 #{index}", "uuid": f"GPU-{index:08x}-1111-2222-3333-444455556666",
            "series": {"util_gpu": 97, "util_mem": 41, "mem_total": 80 * GIB, "mem_used": (10 + index) * GIB,
                       "temp": 71, "temp_v": 72, "temp_slowdown": 87, "power_mw": 312_345, "power_limit_mw": 700_000,
                       "energy_mj": 123_456_789, "clock_sm": 1980, "clock_mem": 2619, "fan": 33, "pstate": 2,
                       "throttle": 0x4 | (1 << 40), "throttle_legacy": 0x8, "violation_power_ns": 2_500_000_000,
                       "violation_thermal_ns": 125_000_000}}


Procs = dict[int, list[tuple[int, int | None]]]


class FakeRig:
    """Backends over the faked pynvml module (`module` is the latest one)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._monkeypatch = monkeypatch
        self.module: Any = None

    def backend(self, fail: dict[tuple[str, int | None], int] | None = None, lacks: tuple[str, ...] = (),
                init_error: int | None = None, pstate: int | None = None, compute: Procs | None = None,
                graphics: Procs | None = None, samples: dict[int, list[tuple[int, int, int, int]]] | None = None,
                ) -> NvmlBackend:
        mod = make_pynvml(init_error=init_error)
        mod.errors.update(fail or {})
        mod.errors.update({(name, None): C.ERROR_FUNCTION_NOT_FOUND for name in lacks})
        if pstate is not None:
            mod.nvmlDeviceGetPerformanceState = lambda h: pstate
        mod.compute.update(compute or {})
        mod.graphics.update(graphics or {})
        mod.samples.update(samples or {})
        self._monkeypatch.setitem(sys.modules, "pynvml", mod)
        self.module = mod
        return PynvmlBackend()


class MockRig:
    """The same backends as `FakeRig`, as rigscope's real backend over the real pynvml and the mock."""

    def __init__(self, make: Callable[..., Any]) -> None:
        self._make = make

    def backend(self, fail: dict[tuple[str, int | None], int] | None = None, lacks: tuple[str, ...] = (),
                init_error: int | None = None, pstate: int | None = None, compute: Procs | None = None,
                graphics: Procs | None = None, samples: dict[int, list[tuple[int, int, int, int]]] | None = None,
                ) -> NvmlBackend:
        gpus = [mock_gpu(i) for i in range(2)]
        for (name, index), code in (fail or {}).items():
            for i in range(2) if index is None else [index]:
                gpus[i].setdefault("faults", []).append({"function": C_SYMBOL.get(name, name), "code": code})
        for i, gpu in enumerate(gpus):
            if pstate is not None:
                gpu["series"]["pstate"] = pstate
            gpu["processes"] = [{"kind": kind, "pid": pid, "mem": used}
                                for kind, table in (("compute", compute), ("graphics", graphics))
                                for pid, used in (table or {}).get(i, [])]
            gpu["samples"] = [{"pid": pid, "ts": ts, "sm": sm, "mem": mem} for pid, ts, sm, mem in (samples or {}).get(i, [])]
        return self._make(gpus, omit=tuple(C_SYMBOL.get(name, name) for name in lacks), init_error=init_error)[1]


@pytest.fixture(params=["fake", pytest.param("mock", marks=pytest.mark.nvml_abi)])
def rig(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> FakeRig | MockRig:
    if request.param == "fake":
        return FakeRig(monkeypatch)
    return MockRig(request.getfixturevalue("mock_backend"))


def read(backend: NvmlBackend, index: int, field: str) -> Any:
    backend.begin_tick(index)
    return backend.read_field(index, field)


def test_fake_constants_match_the_installed_pynvml() -> None:
    real = pytest.importorskip("pynvml")
    assert {name: getattr(real, name) for name in CONSTANTS} == CONSTANTS
    assert issubclass(real.NVMLError_LibraryNotFound, real.NVMLError)


def test_backend_error_codes_match_the_installed_pynvml() -> None:
    from collectors import nvml

    real = pytest.importorskip("pynvml")
    code = {name: getattr(real, f"NVML_ERROR_{name}") for name in (
        "NOT_SUPPORTED", "NO_PERMISSION", "FUNCTION_NOT_FOUND", "DEPRECATED", "ARGUMENT_VERSION_MISMATCH",
        "GPU_IS_LOST", "RESET_REQUIRED", "GPU_NOT_FOUND", "INVALID_ARGUMENT", "NOT_FOUND",
        "UNINITIALIZED", "DRIVER_NOT_LOADED", "LIBRARY_NOT_FOUND", "LIB_RM_VERSION_MISMATCH")}
    assert nvml._UNSUPPORTED == {code[k] for k in ("NOT_SUPPORTED", "NO_PERMISSION", "FUNCTION_NOT_FOUND", "DEPRECATED")}
    assert nvml._NO_FUNCTION == {code[k] for k in ("FUNCTION_NOT_FOUND", "ARGUMENT_VERSION_MISMATCH", "DEPRECATED")}
    assert nvml._LOST == {code[k] for k in ("GPU_IS_LOST", "RESET_REQUIRED", "GPU_NOT_FOUND")}
    assert nvml._NO_DEVICE == nvml._LOST | {code["INVALID_ARGUMENT"], code["NOT_FOUND"]}
    assert nvml._UNAVAILABLE == {code[k] for k in ("UNINITIALIZED", "DRIVER_NOT_LOADED", "LIBRARY_NOT_FOUND", "LIB_RM_VERSION_MISMATCH")}
    assert nvml._PSTATE_UNKNOWN == real.NVML_PSTATE_UNKNOWN


@pytest.mark.parametrize("code", [C.ERROR_LIBRARY_NOT_FOUND, C.ERROR_DRIVER_NOT_LOADED,
                                  C.ERROR_LIB_RM_VERSION_MISMATCH, C.ERROR_UNKNOWN])
def test_init_failure_is_nvml_unavailable(rig: FakeRig | MockRig, code: int) -> None:
    backend = rig.backend(init_error=code)
    with pytest.raises(NvmlUnavailable):
        backend.init()
    with pytest.raises(NvmlUnavailable):
        backend.device_count()  # lazy init tries again, and fails the same way


def test_library_not_found_gives_cpu_only_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", make_pynvml(init_error=C.ERROR_LIBRARY_NOT_FOUND))
    collector, reason = open_gpu_collector(PynvmlBackend(), environ={})
    assert collector is None
    assert reason == "NVML not available (NVML Shared Library Not Found): recording CPU only"


def test_missing_pynvml_module_is_nvml_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    with pytest.raises(NvmlUnavailable, match="pynvml not installed"):
        PynvmlBackend().init()


def test_init_is_lazy_and_once(fake_pynvml: Any) -> None:
    backend = PynvmlBackend()
    assert fake_pynvml.calls["nvmlInit"] == 0
    assert backend.device_count() == 2
    backend.init()
    backend.driver_version()
    assert fake_pynvml.calls["nvmlInit"] == 1
    backend.shutdown()
    backend.shutdown()
    assert fake_pynvml.calls["nvmlShutdown"] == 1 and fake_pynvml.initialised == 0


def test_bytes_are_decoded(rig: FakeRig | MockRig) -> None:
    backend = rig.backend()
    assert backend.driver_version() == "550.54.15"
    info = backend.device_info(1)
    assert info.name == "NVIDIA H100 80GB HBM3 #1"
    assert info.uuid == "GPU-00000001-1111-2222-3333-444455556666"


def test_static_info_units(rig: FakeRig | MockRig) -> None:
    info = rig.backend().device_info(0)
    assert info.index == 0
    assert info.memory_total_bytes == 80 * GIB and isinstance(info.memory_total_bytes, int)
    assert info.power_limit_w == 700.0
    assert info.temp_limit_c == 87.0


def test_static_info_is_null_where_unsupported(rig: FakeRig | MockRig) -> None:
    info = rig.backend(fail={("nvmlDeviceGetEnforcedPowerLimit", 0): C.ERROR_NOT_SUPPORTED}).device_info(0)
    assert info.power_limit_w is None and info.temp_limit_c == 87.0


def test_unit_conversions(rig: FakeRig | MockRig) -> None:
    backend = rig.backend()
    expected = {
        "util_pct": 97.0, "mem_util_pct": 41.0, "mem_used_bytes": 11 * GIB, "mem_total_bytes": 80 * GIB,
        "temp_c": 71.0, "temp_limit_c": 87.0, "power_w": 312.345, "power_limit_w": 700.0,
        "energy_j": 123_456.789, "clock_sm_mhz": 1980.0, "clock_mem_mhz": 2619.0, "fan_pct": 33.0,
        "pstate": 2, "throttle_reasons": 0x4 | (1 << 40),
        "violation_power_s": 2.5, "violation_thermal_s": 0.125,
    }
    assert set(expected) == set(FIELDS)
    backend.begin_tick(1)
    got = {field: backend.read_field(1, field) for field in FIELDS}
    assert got == pytest.approx(expected)
    assert isinstance(got["mem_used_bytes"], int) and isinstance(got["throttle_reasons"], int)


def test_multi_value_calls_are_shared_within_a_tick(fake_pynvml: Any) -> None:
    backend = PynvmlBackend()
    for _ in range(3):
        backend.begin_tick(0)
        for field in ("util_pct", "mem_util_pct", "mem_used_bytes", "mem_total_bytes", "temp_limit_c"):
            backend.read_field(0, field)
    assert fake_pynvml.calls["nvmlDeviceGetUtilizationRates"] == 3
    assert fake_pynvml.calls["nvmlDeviceGetMemoryInfo"] == 3
    assert fake_pynvml.calls["nvmlDeviceGetTemperatureThreshold"] == 1  # a fixed threshold
    assert fake_pynvml.calls["nvmlDeviceGetHandleByIndex"] == 1


def test_a_tick_is_per_gpu_so_reader_threads_never_clear_each_others_cache(fake_pynvml: Any) -> None:
    backend = PynvmlBackend()
    for index in (0, 1):
        backend.begin_tick(index)
        backend.read_field(index, "util_pct")
    backend.begin_tick(0)  # gpu0's next round, while gpu1 is still in its first
    for index in (0, 1):
        backend.read_field(index, "mem_util_pct")
    assert fake_pynvml.calls["nvmlDeviceGetUtilizationRates"] == 3  # gpu1's reading still shared


def test_unknown_pstate_is_null(rig: FakeRig | MockRig) -> None:
    assert read(rig.backend(pstate=C.PSTATE_UNKNOWN), 0, "pstate") is None


@pytest.mark.parametrize("code", [C.ERROR_NOT_SUPPORTED, C.ERROR_FUNCTION_NOT_FOUND, C.ERROR_NO_PERMISSION])
def test_not_supported_is_field_not_supported(rig: FakeRig | MockRig, code: int) -> None:
    backend = rig.backend(fail={("nvmlDeviceGetFanSpeed", 0): code})
    with pytest.raises(FieldNotSupported):
        read(backend, 0, "fan_pct")
    assert read(backend, 1, "fan_pct") == 33.0


@pytest.mark.parametrize("code", [C.ERROR_GPU_IS_LOST, C.ERROR_RESET_REQUIRED])
def test_gpu_lost_is_gpu_lost(rig: FakeRig | MockRig, code: int) -> None:
    backend = rig.backend(fail={("nvmlDeviceGetPowerUsage", 1): code})
    with pytest.raises(GpuLost):
        read(backend, 1, "power_w")
    assert read(backend, 0, "power_w") == pytest.approx(312.345)


def test_gpu_lost_in_device_info(rig: FakeRig | MockRig) -> None:
    backend = rig.backend(fail={("nvmlDeviceGetName", 0): C.ERROR_GPU_IS_LOST})
    with pytest.raises(GpuLost, match="GPU is lost"):
        backend.device_info(0)


def test_unknown_device_is_gpu_lost(rig: FakeRig | MockRig) -> None:
    backend = rig.backend()
    with pytest.raises(GpuLost, match="no device 5"):
        read(backend, 5, "util_pct")


def test_other_errors_are_plain_nvml_errors(rig: FakeRig | MockRig) -> None:
    backend = rig.backend(fail={("nvmlDeviceGetClockInfo", 0): C.ERROR_TIMEOUT})
    with pytest.raises(NvmlError) as error:
        read(backend, 0, "clock_sm_mhz")
    # the fake names the code; the real pynvml asks the library's nvmlErrorString
    assert type(error.value) is NvmlError and str(error.value) in ("NVML Error with code 10", "Timeout")


def test_clocks_event_reasons_preferred(rig: FakeRig | MockRig) -> None:
    assert read(rig.backend(), 0, "throttle_reasons") == 0x4 | (1 << 40)
    if isinstance(rig, FakeRig):
        assert rig.module.calls["nvmlDeviceGetCurrentClocksThrottleReasons"] == 0


def test_throttle_reasons_fallback_when_the_driver_lacks_event_reasons(rig: FakeRig | MockRig) -> None:
    backend = rig.backend(lacks=("nvmlDeviceGetCurrentClocksEventReasons",))  # the mock: a library without it
    assert read(backend, 0, "throttle_reasons") == 0x8
    assert read(backend, 1, "throttle_reasons") == 0x8
    if isinstance(rig, FakeRig):
        assert rig.module.calls["nvmlDeviceGetCurrentClocksEventReasons"] == 1  # not asked again


def test_throttle_reasons_fallback_when_pynvml_lacks_event_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", make_pynvml(drop=("nvmlDeviceGetCurrentClocksEventReasons",)))
    assert read(PynvmlBackend(), 0, "throttle_reasons") == 0x8


def test_throttle_reasons_not_supported_when_no_call_exists(rig: FakeRig | MockRig) -> None:
    backend = rig.backend(lacks=("nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons"))
    with pytest.raises(FieldNotSupported):
        read(backend, 0, "throttle_reasons")


def test_temperature_falls_back_to_the_versioned_call(rig: FakeRig | MockRig) -> None:
    assert read(rig.backend(lacks=("nvmlDeviceGetTemperature",)), 0, "temp_c") == 72.0


def test_gpu_collector_over_pynvml_backend(fake_pynvml: Any) -> None:
    fake_pynvml.errors[("nvmlDeviceGetFanSpeed", None)] = C.ERROR_NOT_SUPPORTED
    collector, reason = open_gpu_collector(PynvmlBackend(), environ={"CUDA_VISIBLE_DEVICES": "GPU-00000001"})
    assert reason is None and isinstance(collector, GpuCollector)
    assert collector.info()["gpus"] == [{
        "index": 1, "name": "NVIDIA H100 80GB HBM3 #1", "uuid": "GPU-00000001-1111-2222-3333-444455556666",
        "memory_total_bytes": 80 * GIB, "power_limit_w": 700.0, "temp_limit_c": 87.0, "driver_version": "550.54.15",
    }]
    for k in range(5):
        row = collector.read(k / 10)
    assert row["gpu1_power_w"] == pytest.approx(312.345) and row["gpu1_fan_pct"] is None
    assert fake_pynvml.calls["nvmlDeviceGetFanSpeed"] == 1
    fake_pynvml.errors[("nvmlDeviceGetUtilizationRates", 1)] = C.ERROR_GPU_IS_LOST
    row = collector.read(0.5)
    assert all(value is None for value in row.values())
    assert collector.drain_notices()[-1] == "nvml: gpu1 lost: GPU is lost"
    collector.close()
    assert fake_pynvml.initialised == 0


def test_importing_collectors_does_not_import_pynvml() -> None:
    import subprocess
    from pathlib import Path

    code = "import sys, collectors.gpu, collectors.fake_nvml; sys.exit('pynvml' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, check=False).returncode == 0


def test_real_pynvml_on_this_machine_never_raises() -> None:
    """Without a driver this is the CPU-only path; on a GPU machine it must read."""
    pytest.importorskip("pynvml")
    collector, reason = open_gpu_collector(PynvmlBackend(), environ={})
    if collector is None:
        assert reason is not None and reason.startswith("NVML not available (")
        assert reason.endswith("): recording CPU only")
        with pytest.raises(NvmlUnavailable):
            PynvmlBackend().init()
    else:
        try:
            row = collector.read(0.0)
            assert row and any(value is not None for value in row.values())
        finally:
            collector.close()


def test_processes_merge_compute_and_graphics(rig: FakeRig | MockRig) -> None:
    from collectors.nvml import GpuProcess

    backend = rig.backend(compute={0: [(100, 4 * GIB), (200, None)]}, graphics={0: [(100, 1 * GIB), (300, 256)]})
    assert backend.processes(0) == [GpuProcess(100, "compute", 4 * GIB), GpuProcess(200, "compute", None),
                                    GpuProcess(300, "graphics", 256)]
    assert backend.processes(1) == []


def test_graphics_not_supported_still_lists_compute(rig: FakeRig | MockRig) -> None:
    backend = rig.backend(compute={0: [(100, GIB)]},
                          fail={("nvmlDeviceGetGraphicsRunningProcesses", None): C.ERROR_NOT_SUPPORTED})
    assert [p.pid for p in backend.processes(0)] == [100]


def test_process_utilization_latest_sample_per_pid_and_since(rig: FakeRig | MockRig) -> None:
    backend = rig.backend(samples={0: [(100, 10, 30, 5), (100, 20, 60, 7), (200, 15, 10, 1)]})
    assert backend.process_utilization(0) == {100: (60.0, 7.0), 200: (10.0, 1.0)}
    assert backend.process_utilization(0) == {}  # nothing newer than timeStamp 20: NOT_FOUND means none
    if isinstance(rig, FakeRig):
        assert rig.module.util_since == 20


@pytest.mark.parametrize("how", ["not supported", "lacking"])
def test_process_utilization_not_supported(rig: FakeRig | MockRig, how: str) -> None:
    name = "nvmlDeviceGetProcessUtilization"
    if how == "not supported":
        backend = rig.backend(fail={(name, None): C.ERROR_NOT_SUPPORTED})
    else:
        backend = rig.backend(lacks=(name,))
    with pytest.raises(FieldNotSupported):
        backend.process_utilization(0)


def test_process_list_of_a_lost_gpu_raises_gpu_lost(rig: FakeRig | MockRig) -> None:
    backend = rig.backend(fail={("nvmlDeviceGetComputeRunningProcesses", 1): C.ERROR_GPU_IS_LOST})
    with pytest.raises(GpuLost):
        backend.processes(1)


def test_a_driver_without_the_v3_process_call_still_lists_graphics(rig: FakeRig | MockRig) -> None:
    """pynvml raises its NVMLLibraryMismatchError, not an NVMLError, when the _v3 symbol is absent."""
    backend = rig.backend(compute={0: [(100, GIB)]}, graphics={0: [(300, 256)]},
                          lacks=("nvmlDeviceGetComputeRunningProcesses",))
    assert [p.pid for p in backend.processes(0)] == [300]
