"""rigscope's GPU and process collectors over the real pynvml and the mock libnvidia-ml (nvml_abi).

Each test writes a scenario, reads through `GpuCollector` / `ProcessCollector` on top of the real
`PynvmlBackend` (in a child process that loaded the mock), and asserts what was read against the
scenario, tick by tick.  The mock's clock is a tick file the test advances, so nothing depends on speed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.gpu import GpuCollector, open_gpu_collector
from collectors.nvml import FIELDS, NvmlError
from collectors.processes import ProcessCollector
from tests.nvml_mock.build import BuildError, build, header_dir, layout_header, pynvml_layouts
from tests.nvml_mock.fixtures import mock_backend, nvml_mock_library  # noqa: F401  (fixtures)
from tests.nvml_mock.scenario import (
    DRIVER_NOT_LOADED,
    GPU_IS_LOST,
    INSUFFICIENT_SIZE,
    NO_PERMISSION,
    NOT_SUPPORTED,
    UNKNOWN,
    h100,
)

pytestmark = pytest.mark.nvml_abi
TICKS = 8


def read_ticks(scenario, collector: GpuCollector, ticks: int = TICKS) -> list[dict]:
    rows = []
    for tick in range(ticks):
        scenario.advance(tick)
        rows.append(collector.read(tick / 10))
    return rows


def expected_row(scenario, indices, tick: int) -> dict:
    return {f"gpu{i}_{field}": value for i in indices for field, value in scenario.expected(i, tick).items()}


def test_eight_h100s_read_as_the_scenario_says_tick_by_tick(mock_backend):
    scenario, backend = mock_backend([h100(i) for i in range(8)])
    collector, reason = open_gpu_collector(backend, environ={})
    assert reason is None and collector is not None
    assert collector.info()["driver_version"] == "550.54.15"
    assert [(g["name"], g["uuid"], g["memory_total_bytes"], g["power_limit_w"], g["temp_limit_c"])
            for g in collector.info()["gpus"]] == [
        (gpu["name"], gpu["uuid"], 80 * 1024**3, 700.0, 87.0) for gpu in scenario.gpus]
    for tick, row in enumerate(read_ticks(scenario, collector)):
        assert row == expected_row(scenario, range(8), tick), tick
    assert set(scenario.expected(0, 0)) == set(FIELDS)  # the scenario sets every column
    assert collector.drain_notices() == []
    collector.close()


def test_cuda_visible_devices_picks_by_uuid_prefix(mock_backend):
    scenario, backend = mock_backend([h100(i) for i in range(4)])
    collector, _ = open_gpu_collector(backend, environ={"CUDA_VISIBLE_DEVICES": "GPU-00000002,GPU-00000003"})
    assert collector is not None and collector.indices == (2, 3)
    assert read_ticks(scenario, collector, 1)[0] == expected_row(scenario, (2, 3), 0)
    collector.close()


@pytest.mark.parametrize("code", [NOT_SUPPORTED, NO_PERMISSION])
def test_an_unsupported_reading_is_null_for_the_session_and_told_once(mock_backend, code):
    gpus = [h100(0), h100(1)]
    gpus[1]["faults"] = [{"function": "nvmlDeviceGetFanSpeed", "code": code}]
    scenario, backend = mock_backend(gpus)
    collector = GpuCollector(backend, [0, 1])
    for tick, row in enumerate(read_ticks(scenario, collector)):
        assert row == {**expected_row(scenario, (0, 1), tick), "gpu1_fan_pct": None}
    reason = "Not Supported" if code == NOT_SUPPORTED else "Insufficient Permissions"
    assert collector.drain_notices() == [f"nvml: gpu1 fan_pct not supported ({reason}): null for this session"]
    collector.close()


def test_an_unknown_error_nulls_only_those_ticks_and_is_told_once(mock_backend):
    gpus = [h100(0)]
    gpus[0]["faults"] = [{"function": "nvmlDeviceGetPowerUsage", "code": UNKNOWN, "from": 2, "until": 5}]
    scenario, backend = mock_backend(gpus)
    collector = GpuCollector(backend, [0])
    for tick, row in enumerate(read_ticks(scenario, collector)):
        expected = expected_row(scenario, (0,), tick)
        assert row == ({**expected, "gpu0_power_w": None} if 2 <= tick < 5 else expected), tick
    assert collector.drain_notices() == ["nvml: reading power_w failed (NvmlError: Unknown Error): null for that tick"]
    collector.close()


def test_a_gpu_lost_from_tick_k_is_null_from_then_on_and_the_others_keep_reading(mock_backend):
    gpus = [h100(i) for i in range(3)]
    gpus[1]["faults"] = [{"function": "*", "code": GPU_IS_LOST, "from": 3}]
    scenario, backend = mock_backend(gpus)
    collector = GpuCollector(backend, [0, 1, 2])
    for tick, row in enumerate(read_ticks(scenario, collector)):
        expected = expected_row(scenario, (0, 1, 2), tick)
        if tick >= 3:
            expected.update({f"gpu1_{field}": None for field in FIELDS})
        assert row == expected, tick
    assert collector.drain_notices() == ["nvml: gpu1 lost: GPU is lost"]
    collector.close()


def test_a_driver_that_is_not_loaded_records_cpu_only(mock_backend):
    _, backend = mock_backend([h100(0)], init_error=DRIVER_NOT_LOADED)
    assert open_gpu_collector(backend, environ={}) == (
        None, "NVML not available (Driver Not Loaded): recording CPU only")


def process_scenario(mock_backend, omit=(), faults=()):
    gpus = [h100(0), h100(1)]
    gpus[0]["processes"] = [
        {"kind": "compute", "pid": 4_000_001, "mem": 30 * 1024**3, "gi": 1, "ci": 0},
        {"kind": "compute", "pid": 4_000_002, "mem": None},  # NVML_VALUE_NOT_AVAILABLE
        {"kind": "graphics", "pid": 4_000_003, "mem": 256 * 1024**2, "from": 2},
    ]
    gpus[0]["samples"] = [{"pid": 4_000_001, "ts": 10, "sm": 80, "mem": 30},
                          {"pid": 4_000_001, "ts": 20, "sm": 95, "mem": 35}]
    gpus[0]["faults"] = list(faults)
    scenario, backend = mock_backend(gpus, omit=omit)
    backend.init()
    return scenario, backend, ProcessCollector(backend, [0, 1])


def table(rows):
    return [(r["gpu"], r["pid"], r["kind"], r["gpu_mem_bytes"], r["sm_pct"], r["visible"]) for r in rows]


def test_processes_come_through_the_two_call_v3_query_with_their_utilization(mock_backend):
    """pynvml asks for the count first (INSUFFICIENT_SIZE), then the v3 list: an empty list would mean
    the first call's answer was taken as the whole answer."""
    scenario, backend, procs = process_scenario(mock_backend)
    assert table(procs.rows(1)) == [(0, 4_000_001, "compute", 30 * 1024**3, 95.0, False),
                                    (0, 4_000_002, "compute", None, None, False)]
    scenario.advance(2)
    assert table(procs.rows(2)) == [(0, 4_000_001, "compute", 30 * 1024**3, None, False),  # no newer sample
                                    (0, 4_000_002, "compute", None, None, False),
                                    (0, 4_000_003, "graphics", 256 * 1024**2, None, False)]
    assert procs.drain_notices() == []


def test_a_driver_without_per_process_utilization_lists_processes_with_null_sm(mock_backend):
    _, _, procs = process_scenario(mock_backend, omit=("nvmlDeviceGetProcessUtilization",))
    for ts in (1, 2):
        assert table(procs.rows(ts)) == [(0, 4_000_001, "compute", 30 * 1024**3, None, False),
                                         (0, 4_000_002, "compute", None, None, False)]
    assert procs.drain_notices() == [
        "processes: gpu0 per-process utilization not supported (Function Not Found): SM % is null",
        "processes: gpu1 per-process utilization not supported (Function Not Found): SM % is null"]


def test_a_process_list_that_keeps_growing_between_the_two_calls_fails_that_tick_only(mock_backend):
    fault = {"function": "nvmlDeviceGetComputeRunningProcesses_v3", "code": INSUFFICIENT_SIZE, "until": 1}
    scenario, backend, procs = process_scenario(mock_backend, faults=[fault])
    with pytest.raises(NvmlError, match="Insufficient Size"):
        backend.processes(0)
    assert table(procs.rows(0)) == []
    assert procs.drain_notices() == ["processes: gpu0 process list failed (Insufficient Size); tried again next tick"]
    scenario.advance(1)
    assert [row["pid"] for row in procs.rows(1)] == [4_000_001, 4_000_002]


def test_a_wrong_struct_in_pynvml_or_the_mock_does_not_compile(tmp_path: Path, nvml_mock_library):
    """The header's prototypes and the generated layout asserts are what make the mock trustworthy."""
    import ctypes

    class ShortProcessInfo(ctypes.Structure):  # pynvml's v1 process struct, where v3 is expected
        _fields_ = [("pid", ctypes.c_uint), ("usedGpuMemory", ctypes.c_ulonglong)]

    wrong = {**pynvml_layouts(), "nvmlProcessInfo_t": ShortProcessInfo}
    with pytest.raises(BuildError, match="ShortProcessInfo: size differs from nvml.h nvmlProcessInfo_t"):
        build(layouts=wrong)
    bad_prototype = tmp_path / "mock_nvml.c"  # memory info with the v2 struct under the v1 name
    source = Path(__file__).resolve().parents[1] / "nvml_mock" / "mock_nvml.c"
    bad_prototype.write_text(source.read_text().replace(
        "nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)",
        "nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_v2_t *memory)"))
    with pytest.raises(BuildError, match="conflicting types for .nvmlDeviceGetMemoryInfo"):
        build(source=bad_prototype)
    assert "_Static_assert(offsetof(nvmlProcessInfo_t, computeInstanceId) == 20" in layout_header(pynvml_layouts())
    assert (header_dir() / "nvml.h").is_file()


def pynvml_symbols(function: str, depth: int = 3) -> set[str]:
    """The C entry points pynvml's `function` resolves, following the pynvml functions it calls."""
    import inspect
    import re

    import pynvml

    source = inspect.getsource(getattr(pynvml, function))
    found = set(re.findall(r'_nvmlGetFunctionPointer\("(\w+)"\)', source))
    if depth > 0:
        for called in set(re.findall(r"\b(nvml\w+)\(", source)) - {function}:
            if callable(getattr(pynvml, called, None)):
                found |= pynvml_symbols(called, depth - 1)
    return found


def test_the_mock_exports_every_entry_point_rigscope_reaches_through_pynvml(nvml_mock_library):
    """Each pynvml function collectors/nvml.py names, down to the C symbols pynvml asks the library for."""
    import re
    import subprocess
    import sys

    source = (Path(__file__).resolve().parents[2] / "collectors" / "nvml.py").read_text()
    functions = set(re.findall(r"\bnv\.(nvml\w+)", source)) | set(re.findall(r'"(nvml\w+)"', source))
    assert {"nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetProcessUtilization", "nvmlInit"} <= functions
    symbols = set().union(*(pynvml_symbols(f) for f in functions)) | {"nvmlErrorString"}  # NVMLError's text
    assert {"nvmlInitWithFlags", "nvmlDeviceGetCount_v2", "nvmlDeviceGetComputeRunningProcesses_v3",
            "nvmlDeviceGetTemperatureV"} <= symbols
    # loaded in a child: once in this process, the mock would answer every later dlopen of its soname here
    check = "import ctypes, sys; lib = ctypes.CDLL(sys.argv[1]); print(*[s for s in sys.argv[2:] if not hasattr(lib, s)])"
    library = str(nvml_mock_library / "libnvidia-ml.so.1")
    missing = subprocess.run([sys.executable, "-c", check, library, *sorted(symbols)],
                             capture_output=True, text=True, check=True).stdout.split()
    assert missing == []


def test_a_hung_call_sleeps_its_seconds_then_answers_once(mock_backend):
    import time

    gpus = [h100(0)]
    gpus[0]["hangs"] = [{"function": "nvmlDeviceGetPowerUsage", "from": 1, "seconds": 0.3}]
    scenario, backend = mock_backend(gpus)
    collector = GpuCollector(backend, [0])
    assert read_ticks(scenario, collector, 1)[0] == expected_row(scenario, (0,), 0)  # tick 0: before the hang
    scenario.advance(1)
    started = time.monotonic()
    assert collector.read(0.1) == expected_row(scenario, (0,), 1)  # slow, not wrong
    assert time.monotonic() - started >= 0.3 and scenario.hang_started(0)
    started_file = scenario.directory / "release-gpu0.started"
    started_file.unlink()
    scenario.advance(2)
    assert collector.read(0.2) == expected_row(scenario, (0,), 2)
    assert not started_file.exists()  # a hang happens once
    collector.close()
