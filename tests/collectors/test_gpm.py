"""GPM columns (SM, tensor, DRAM activity, PCIe and NVLink traffic): over the real pynvml and the mock
libnvidia-ml (scripted activity the metrics must reproduce exactly), and over `FakeNvml`."""

from __future__ import annotations

import pytest

from collectors.fake_nvml import FakeGpu, FakeNvml
from collectors.gpu import GpuCollector
from collectors.nvml import GPM_FIELDS, GPM_METRICS
from collectors.schema import GPM_COLUMN_TEMPLATE
from tests.nvml_mock.fixtures import mock_backend, nvml_mock_library  # noqa: F401  (fixtures)
from tests.nvml_mock.scenario import NOT_SUPPORTED, h100, without_gpm

GPM_NOTICE = "GPM not supported ({}): SM, tensor and DRAM activity null for this session"


def gpm_row(prefix: str, values: dict[str, float | None]) -> dict[str, float | None]:
    return {f"{prefix}_{field}": values[field] for field in GPM_FIELDS}


def gpm_of(row: dict, prefix: str) -> dict:
    return {key: value for key, value in row.items() if key.removeprefix(prefix + "_") in GPM_FIELDS
            and key.startswith(prefix + "_")}


def nulls(prefix: str) -> dict:
    return gpm_row(prefix, dict.fromkeys(GPM_FIELDS))


def test_every_gpm_field_has_a_metric_and_a_column():
    assert tuple(GPM_METRICS) == GPM_FIELDS
    assert [name.removeprefix("{p}_") for name in GPM_COLUMN_TEMPLATE] == list(GPM_FIELDS)


@pytest.mark.nvml_abi
def test_each_metric_is_the_scripted_activity_and_a_gpu_without_gpm_is_null_told_once(mock_backend):
    scenario, backend = mock_backend([h100(0), without_gpm(h100(1))])
    collector = GpuCollector(backend, [0, 1], gpm_interval_s=0.1)
    for tick in range(10):
        scenario.advance(tick)
        row = collector.read(tick / 10)
        # The first sample has nothing to compare with: null, never 0.
        expected = nulls("gpu0") if tick == 0 else gpm_row("gpu0", scenario.expected_gpm(0, tick - 1, tick))
        assert gpm_of(row, "gpu0") == expected, tick
        assert gpm_of(row, "gpu1") == nulls("gpu1"), tick
        assert row["gpu1_util_pct"] == scenario.expected(1, tick)["util_pct"]  # never derived from util
    assert row["gpu0_sm_active_pct"] == 90.0 and row["gpu0_pcie_rx_bps"] == 1500 * 1024**2
    # Ten samples of GPU 0 from the mock's two buffers: they were allocated once and reused.
    assert collector.drain_notices() == ["nvml: gpu1 " + GPM_NOTICE.format("this GPU has no GPM")]
    collector.close()


@pytest.mark.nvml_abi
def test_gpm_runs_on_its_own_period_and_holds_the_mean_of_its_interval(mock_backend):
    scenario, backend = mock_backend([h100(0)])
    collector = GpuCollector(backend, [0], gpm_interval_s=0.3)
    rows = []
    for tick in range(8):
        scenario.advance(tick)
        rows.append(gpm_of(collector.read(tick / 10), "gpu0"))
    assert rows[:3] == [nulls("gpu0")] * 3
    # Samples at ticks 0, 3 and 6: each reading is the mean over its interval, held until the next.
    assert rows[3] == rows[4] == rows[5] == gpm_row("gpu0", scenario.expected_gpm(0, 0, 3))
    assert rows[6] == rows[7] == gpm_row("gpu0", scenario.expected_gpm(0, 3, 6))
    assert rows[3]["gpu0_sm_active_pct"] == pytest.approx((80 + 85 + 10) / 3)
    assert collector.drain_notices() == []
    collector.close()


@pytest.mark.nvml_abi
def test_a_mig_gpu_whose_gpm_samples_are_refused_is_null_told_once(mock_backend):
    gpu = h100(0)
    gpu["faults"] = [{"function": "nvmlGpmSampleGet", "code": NOT_SUPPORTED}]
    scenario, backend = mock_backend([gpu])
    collector = GpuCollector(backend, [0], gpm_interval_s=0.1)
    for tick in range(4):
        scenario.advance(tick)
        row = collector.read(tick / 10)
        assert gpm_of(row, "gpu0") == nulls("gpu0")
        assert row["gpu0_util_pct"] == scenario.expected(0, tick)["util_pct"]
    assert collector.drain_notices() == ["nvml: gpu0 " + GPM_NOTICE.format("Not Supported")]
    collector.close()


@pytest.mark.nvml_abi
def test_a_driver_without_gpm_is_null_told_once(mock_backend):
    omit = ("nvmlGpmQueryDeviceSupport", "nvmlGpmSampleAlloc", "nvmlGpmSampleFree", "nvmlGpmSampleGet",
            "nvmlGpmMetricsGet")
    scenario, backend = mock_backend([h100(0)], omit=omit)
    collector = GpuCollector(backend, [0], gpm_interval_s=0.1)
    for tick in range(3):
        scenario.advance(tick)
        assert gpm_of(collector.read(tick / 10), "gpu0") == nulls("gpu0")
    [notice] = collector.drain_notices()
    assert notice.startswith("nvml: gpu0 GPM not supported (") and "Function Not Found" in notice
    collector.close()


def test_fake_gpm_follows_its_script_and_none_means_unsupported():
    sm = [0.0, 70.0, 15.0, 12.0]
    fake = FakeNvml([FakeGpu(gpm={"sm_active_pct": lambda t: sm[t]}), FakeGpu(gpm=None, readings={"util_pct": 100.0})])
    collector = GpuCollector(fake, [0, 1], gpm_interval_s=1.0)
    rows = [collector.read(t * 1.0) for t in range(4)]
    assert [r["gpu0_sm_active_pct"] for r in rows] == [None, 70.0, 15.0, 12.0]
    assert all(r["gpu0_tensor_active_pct"] is None for r in rows)  # not scripted: not measured
    assert all(gpm_of(r, "gpu1") == nulls("gpu1") and r["gpu1_util_pct"] == 100.0 for r in rows)
    assert collector.drain_notices() == ["nvml: gpu1 " + GPM_NOTICE.format("this GPU has no GPM")]
    assert fake.calls[(1, "gpm_sample")] == 1  # not asked again


def test_without_an_interval_there_are_no_gpm_columns_and_no_gpm_calls():
    fake = FakeNvml(1)
    row = GpuCollector(fake, [0]).read(0.0)
    assert not gpm_of(row, "gpu0") and fake.calls[(0, "gpm_sample")] == 0


def test_info_says_which_gpus_have_gpm_and_the_first_sample_is_taken_at_start():
    fake = FakeNvml([FakeGpu(), FakeGpu(gpm=None)])
    collector = GpuCollector(fake, [0, 1], gpm_interval_s=1.0)
    assert [g["gpm"] for g in collector.info()["gpus"]] == [True, False]
    assert fake.gpm_samples == [1, 0]  # primed: the first interval has a reading at its end
    assert collector.read(0.5)["gpu0_sm_active_pct"] is None
    assert collector.read(1.0)["gpu0_sm_active_pct"] == 45.0
    assert "gpm" not in GpuCollector(FakeNvml(1), [0]).info()["gpus"][0]  # GPM off: not asked


def test_a_pynvml_without_gpm_calls_is_unsupported_not_an_error(monkeypatch):
    import sys

    from collectors.nvml import FieldNotSupported, PynvmlBackend
    from tests.collectors.test_nvml_pynvml import make_pynvml

    monkeypatch.setitem(sys.modules, "pynvml", make_pynvml())  # a pynvml from before GPM
    assert not hasattr(sys.modules["pynvml"], "nvmlGpmSampleAlloc")
    backend = PynvmlBackend()
    with pytest.raises(FieldNotSupported, match="no GPM"):
        backend.gpm_sample(0)


def test_a_gpu_lost_before_gpm_could_tell_is_not_said_to_have_it():
    """A GPU that falls off the bus at start: whether it has GPM is unknown (null), not true (replay would show
    an SM row of nulls for it)."""
    fake = FakeNvml([FakeGpu(), FakeGpu(lost_at_tick=0)])
    collector = GpuCollector(fake, [0, 1], gpm_interval_s=1.0)
    assert [g["gpm"] for g in collector.info()["gpus"]] == [True, None]
