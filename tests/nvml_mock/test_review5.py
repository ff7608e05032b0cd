"""The GPU path over the real pynvml and the NVML mock, where NVML misbehaves: a GPU name that is not
UTF-8, a driver unloaded mid-run, an energy counter that goes back.  Nothing here depends on speed:
the mock's clock is a tick file the test advances."""

from __future__ import annotations

import pytest

from collectors.gpu import GpuCollector, open_gpu_collector
from collectors.nvml import FIELDS
from collectors.processes import ProcessCollector
from tests.nvml_mock.fixtures import mock_backend, nvml_mock_library  # noqa: F401  (fixtures)
from tests.nvml_mock.scenario import NO_PERMISSION, NOT_SUPPORTED, h100

pytestmark = pytest.mark.nvml_abi


def read_ticks(scenario, collector: GpuCollector, ticks: int) -> list[dict]:
    rows = []
    for tick in range(ticks):
        scenario.advance(tick)
        rows.append(collector.read(tick / 10))
    return rows


def test_a_gpu_name_that_is_not_utf8_is_shown_with_a_replacement_character(mock_backend):
    scenario, backend = mock_backend([h100(0), h100(1)])
    # The driver hands the name over as bytes; one from a bad VBIOS string is not UTF-8 (the mock
    # reads its scenario when NVML starts, so the file can still be changed here).
    scenario.path.write_bytes(scenario.path.read_bytes().replace(b"gpu 1 name NVIDIA H100 80GB HBM3",
                                                                 b"gpu 1 name NVIDIA H100 \xff\xfe 80GB"))
    collector, reason = open_gpu_collector(backend, environ={})
    assert reason is None and collector is not None
    assert [g["name"] for g in collector.info()["gpus"]] == ["NVIDIA H100 80GB HBM3", "NVIDIA H100 \ufffd\ufffd 80GB"]
    assert read_ticks(scenario, collector, 1)[0]["gpu1_util_pct"] == 91.0
    collector.close()


@pytest.mark.parametrize(("code", "why"), [(9, "Driver Not Loaded"), (1, "Uninitialized")])
def test_a_driver_unloaded_mid_run_makes_each_gpu_lost_told_once_per_gpu(mock_backend, code, why):
    gpus = [h100(0), h100(1)]
    for gpu in gpus:
        gpu["faults"] = [{"function": "*", "code": code, "from": 3}]
    scenario, backend = mock_backend(gpus)
    collector = GpuCollector(backend, [0, 1])
    for tick, row in enumerate(read_ticks(scenario, collector, 6)):
        expected = {f"gpu{i}_{field}": value for i in (0, 1) for field, value in scenario.expected(i, tick).items()}
        if tick >= 3:
            expected = dict.fromkeys(expected)
        assert row == expected, tick
    # Not one "reading X failed ... null for that tick" per field, retried every tick for ever.
    assert collector.drain_notices() == [f"nvml: gpu{i} lost: NVML unavailable ({why})" for i in (0, 1)]
    collector.close()


def test_an_energy_counter_that_goes_back_is_recorded_as_read_and_told_once(mock_backend):
    gpu = h100(0)
    gpu["series"]["energy_mj"] = [5_000_000, 5_070_000, 140_000, 210_000, 100, 70_100]  # a reset, then another
    scenario, backend = mock_backend([gpu])
    collector = GpuCollector(backend, [0])
    rows = read_ticks(scenario, collector, 6)
    assert [row["gpu0_energy_j"] for row in rows] == [5000.0, 5070.0, 140.0, 210.0, 0.1, 70.1]  # the readings, as read
    assert collector.drain_notices() == [
        "nvml: gpu0 energy counter went back (5070 J to 140 J, a reset): energy from integrated power"]
    collector.close()


@pytest.mark.parametrize("why", ["Insufficient Permissions", "the NVML library lacks this call (older driver)"])
def test_a_process_list_the_driver_cannot_give_is_said_not_shown_as_no_process(mock_backend, why):
    gpu = h100(0)
    gpu["processes"] = [{"kind": "compute", "pid": 4_000_001, "mem": 30 * 1024**3}]
    calls = ("nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetGraphicsRunningProcesses_v3")
    if why.startswith("the NVML library"):  # a driver older than the v3 calls pynvml makes
        scenario, backend = mock_backend([gpu], omit=calls)
    else:
        gpu["faults"] = [{"function": call, "code": NO_PERMISSION} for call in calls]
        scenario, backend = mock_backend([gpu])
    backend.init()
    procs = ProcessCollector(backend, [0])
    listed = []
    processes = backend.processes
    backend.processes = lambda index: (listed.append(index), processes(index))[1]
    assert procs.rows(1) == [] and procs.rows(2) == [] and procs.rows(3) == []
    assert listed == [0]  # asked once: the driver will not give it later either
    assert procs.drain_notices() == [f"processes: gpu0 processes not listed ({why}): not for this session"]


def test_a_gpu_without_graphics_processes_still_lists_its_compute_processes(mock_backend):
    gpu = h100(0)
    gpu["processes"] = [{"kind": "compute", "pid": 4_000_001, "mem": 30 * 1024**3}]
    gpu["faults"] = [{"function": "nvmlDeviceGetGraphicsRunningProcesses_v3", "code": NOT_SUPPORTED}]
    scenario, backend = mock_backend([gpu])
    backend.init()
    procs = ProcessCollector(backend, [0])
    assert [(row["pid"], row["gpu_mem_bytes"]) for row in procs.rows(1)] == [(4_000_001, 30 * 1024**3)]
    assert procs.drain_notices() == []


def test_a_gpu_outside_the_jobs_cgroup_is_null_and_said_while_the_others_record(mock_backend):
    """NVML counts every GPU of the box but gives no handle (NO_PERMISSION) to one a Slurm job's cgroup
    leaves out: that GPU alone is null, said once; rigscope recorded CPU only for every GPU."""
    gpus = [h100(0), h100(1), h100(2)]
    gpus[1]["faults"] = [{"function": "nvmlDeviceGetHandleByIndex_v2", "code": NO_PERMISSION}]
    scenario, backend = mock_backend(gpus)
    collector, reason = open_gpu_collector(backend, environ={})
    assert reason is None and collector is not None and collector.indices == (0, 1, 2)
    assert [g["name"] for g in collector.info()["gpus"]] == ["NVIDIA H100 80GB HBM3", None, "NVIDIA H100 80GB HBM3"]
    for tick, row in enumerate(read_ticks(scenario, collector, 3)):
        expected = {f"gpu{i}_{field}": value for i in (0, 2) for field, value in scenario.expected(i, tick).items()}
        assert row == {**expected, **{f"gpu1_{field}": None for field in FIELDS}}, tick
    assert collector.drain_notices() == ["nvml: gpu1 not readable (Insufficient Permissions): null for this session"]
    collector.close()
