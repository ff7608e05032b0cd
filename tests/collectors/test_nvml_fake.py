"""GpuCollector over the shipped FakeNvml backend: readings, faults, GPU selection, info()."""

from __future__ import annotations

import threading

import pytest

from collectors.fake_nvml import FakeGpu, FakeNvml
from collectors.gpu import GpuCollector, open_gpu_collector, select_gpu_indices
from collectors.nvml import FIELDS
from collectors.schema import GPU_COLUMN_TEMPLATE, gpu_prefix


def columns(index: int) -> list[str]:
    return [name.format(p=gpu_prefix(index)) for name in GPU_COLUMN_TEMPLATE]


def two_gpus(**faults: object) -> FakeNvml:
    return FakeNvml([
        FakeGpu(name="NVIDIA RTX A", uuid="GPU-aaaa1111-0000-0000-0000-000000000000",
                readings={"util_pct": lambda t: float(t), "temp_c": 55.0}),
        FakeGpu(name="NVIDIA RTX B", uuid="GPU-bbbb2222-0000-0000-0000-000000000000", power_limit_w=250.0,
                readings={"util_pct": lambda t: 100.0 - t}, **faults),  # type: ignore[arg-type]
    ])


def test_reads_every_schema_field_of_each_gpu() -> None:
    collector = GpuCollector(two_gpus(), [0, 1])
    row = collector.read(0.0)
    assert list(row) == columns(0) + columns(1)
    assert row["gpu0_util_pct"] == 0.0 and row["gpu1_util_pct"] == 100.0
    assert row["gpu0_temp_c"] == 55.0 and row["gpu1_power_limit_w"] == 250.0
    assert all(value is not None for value in row.values())
    row = collector.read(0.1)
    assert row["gpu0_util_pct"] == 1.0 and row["gpu1_util_pct"] == 99.0
    assert row["gpu0_energy_j"] == 150.0
    assert collector.drain_notices() == []


def test_columns_use_the_physical_index() -> None:
    collector = GpuCollector(FakeNvml(3), [2])
    assert list(collector.read(0.0)) == columns(2)
    assert collector.indices == (2,)


def test_unsupported_field_is_null_and_not_retried() -> None:
    fake = two_gpus(unsupported=["fan_pct"])
    fake.set_unsupported(0, "violation_power_s")
    collector = GpuCollector(fake, [0, 1])
    rows = [collector.read(k / 10) for k in range(20)]
    assert all(r["gpu1_fan_pct"] is None and r["gpu0_violation_power_s"] is None for r in rows)
    assert all(r["gpu0_fan_pct"] == 40.0 and r["gpu1_violation_power_s"] == 0.0 for r in rows)
    assert fake.calls[(1, "fan_pct")] == 1
    assert fake.calls[(0, "violation_power_s")] == 1
    assert fake.calls[(0, "fan_pct")] == 20
    notices = collector.drain_notices()
    assert len(notices) == 2
    assert any("gpu1 fan_pct not supported" in n for n in notices)
    assert all(n.startswith("nvml: ") for n in notices)


def test_gpu_lost_mid_run_nulls_it_and_the_other_goes_on() -> None:
    fake = two_gpus(lost_at_tick=3)
    collector = GpuCollector(fake, [0, 1])
    rows = [collector.read(k / 10) for k in range(6)]
    assert all(rows[k]["gpu1_util_pct"] == 100.0 - k for k in range(3))
    for row in rows[3:]:
        assert all(row[c] is None for c in columns(1))
    assert [r["gpu0_util_pct"] for r in rows] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert collector.drain_notices() == ["nvml: gpu1 lost: GPU is lost"]
    calls_after_loss = sum(n for (i, _), n in fake.calls.items() if i == 1)
    collector.read(1.0)
    assert sum(n for (i, _), n in fake.calls.items() if i == 1) == calls_after_loss
    assert collector.drain_notices() == []


def test_gpu_lost_in_the_middle_of_a_read_nulls_the_whole_gpu() -> None:
    fake = FakeNvml(1)
    fake.lose_gpu(0, at_tick=1)
    collector = GpuCollector(fake, [0])
    collector.read(0.0)
    fake.fail(0, "temp_c")  # irrelevant once lost
    row = collector.read(0.1)
    assert all(value is None for value in row.values())


def test_gpu_lost_before_start_gives_nulls_in_info_and_rows() -> None:
    fake = FakeNvml(2)
    fake.lose_gpu(1, at_tick=0)
    collector = GpuCollector(fake, [0, 1])
    assert collector.info()["gpus"][1]["name"] is None
    row = collector.read(0.0)
    assert row["gpu0_util_pct"] == 50.0 and row["gpu1_util_pct"] is None
    assert collector.drain_notices() == ["nvml: gpu1 lost: GPU is lost"]


def test_unexpected_error_is_null_for_that_tick_with_one_notice_per_field() -> None:
    fake = two_gpus()
    fake.fail(0, "power_w", ticks=[1, 2])
    fake.fail(1, "power_w", ticks=[2])
    collector = GpuCollector(fake, [0, 1])
    rows = [collector.read(k / 10) for k in range(4)]
    assert [r["gpu0_power_w"] for r in rows] == [150.0, None, None, 150.0]
    assert [r["gpu1_power_w"] for r in rows] == [150.0, 150.0, None, 150.0]
    notices = collector.drain_notices()
    assert len(notices) == 1 and "power_w" in notices[0] and "Unknown Error" in notices[0]
    assert fake.calls[(0, "power_w")] == 4  # retried: the error may pass


def test_a_reading_that_raises_something_else_is_also_contained() -> None:
    def broken(tick: int) -> float:
        raise ZeroDivisionError("boom")

    collector = GpuCollector(FakeNvml([FakeGpu(readings={"clock_sm_mhz": broken})]), [0])
    row = collector.read(0.0)
    assert row["gpu0_clock_sm_mhz"] is None and row["gpu0_util_pct"] == 50.0
    assert "ZeroDivisionError" in collector.drain_notices()[0]


def test_info_content() -> None:
    collector = GpuCollector(two_gpus(), [0, 1])
    info = collector.info()
    assert info["driver_version"] == "555.42.06"
    assert info["gpus"][0] == {
        "index": 0, "name": "NVIDIA RTX A", "uuid": "GPU-aaaa1111-0000-0000-0000-000000000000",
        "memory_total_bytes": 24 * 1024**3, "power_limit_w": 300.0, "temp_limit_c": 87.0,
        "driver_version": "555.42.06",
    }
    assert info["gpus"][1]["power_limit_w"] == 250.0


def test_unknown_static_values_are_null() -> None:
    fake = FakeNvml([FakeGpu(power_limit_w=None, temp_limit_c=None)])
    collector = GpuCollector(fake, [0])
    gpu = collector.info()["gpus"][0]
    assert gpu["power_limit_w"] is None and gpu["temp_limit_c"] is None
    row = collector.read(0.0)
    assert row["gpu0_power_limit_w"] is None and row["gpu0_temp_limit_c"] is None


def test_no_driver_gives_a_cpu_only_reason() -> None:
    collector, reason = open_gpu_collector(FakeNvml(2, no_driver=True), environ={})
    assert collector is None
    assert reason == "NVML not available (Driver Not Loaded): recording CPU only"


def test_no_gpu_gives_a_cpu_only_reason() -> None:
    collector, reason = open_gpu_collector(FakeNvml(0), environ={})
    assert collector is None and reason is not None and "no NVIDIA GPU" in reason


def test_open_reads_all_gpus_by_default() -> None:
    collector, reason = open_gpu_collector(FakeNvml(3), environ={})
    assert reason is None and collector is not None
    assert collector.indices == (0, 1, 2) and collector.name == "nvml"
    collector.close()
    collector.close()


def test_open_honours_cuda_visible_devices_and_the_flag_wins() -> None:
    fake = two_gpus()
    collector, _ = open_gpu_collector(fake, environ={"CUDA_VISIBLE_DEVICES": "GPU-bbbb"})
    assert collector is not None and collector.indices == (1,)
    collector, _ = open_gpu_collector(fake, gpus_flag="0", environ={"CUDA_VISIBLE_DEVICES": "1"})
    assert collector is not None and collector.indices == (0,)


def test_open_with_nothing_selected_is_cpu_only() -> None:
    fake = FakeNvml(2)
    collector, reason = open_gpu_collector(fake, environ={"CUDA_VISIBLE_DEVICES": ""})
    assert collector is None and reason == "no GPU selected (CUDA_VISIBLE_DEVICES=''): recording CPU only"
    assert not fake.initialised


def test_open_with_a_bad_flag_raises_one_line() -> None:
    with pytest.raises(ValueError, match=r"^--gpus 0,5: there is no GPU 5 \(this machine has 2 GPUs: indices 0-1\)$"):
        open_gpu_collector(FakeNvml(2), gpus_flag="0,5", environ={})


UUIDS = ["GPU-aaaa1111-0000", "GPU-aaaa2222-0000", "GPU-bbbb3333-0000", "GPU-cccc4444-0000"]


@pytest.mark.parametrize(("env", "expected"), [
    (None, [0, 1, 2, 3]),
    ("", []),
    ("0,2", [0, 2]),
    ("2,0", [0, 2]),
    (" 1 , 3 ", [1, 3]),
    ("1,-1,2", [1]),
    ("-1", []),
    ("0,7,1", [0]),
    ("1,x,2", [1]),
    ("1abc", [1]),
    ("0,1,0", []),
    ("GPU-bbbb3333-0000", [2]),
    ("GPU-bbbb,GPU-CCCC", [2, 3]),
    ("GPU-aaaa,GPU-bbbb", []),  # ambiguous prefix stops the list at once
    ("GPU-bbbb,GPU-aaaa", [2]),
    ("GPU-dddd,GPU-bbbb", []),
    ("GPU-bbbb,0", [2]),  # indices and UUIDs don't mix
    ("MIG-1234", []),
])
def test_cuda_visible_devices(env: str | None, expected: list[int]) -> None:
    assert select_gpu_indices(4, UUIDS, env, None) == expected


@pytest.mark.parametrize(("flag", "expected"), [
    ("0,2", [0, 2]),
    ("2, 0,2", [0, 2]),
    ("3", [3]),
    ("GPU-cccc", [3]),
    ("1,GPU-bbbb", [1, 2]),
    ("", []),
    ("none", []),
])
def test_gpus_flag_wins(flag: str, expected: list[int]) -> None:
    assert select_gpu_indices(4, UUIDS, "1", flag) == expected


@pytest.mark.parametrize(("flag", "message"), [
    ("4", "--gpus 4: there is no GPU 4 (this machine has 4 GPUs: indices 0-3)"),
    ("GPU-aaaa", "--gpus GPU-aaaa: several GPUs have a UUID starting with GPU-aaaa"),
    ("GPU-ffff", "--gpus GPU-ffff: no GPU has a UUID starting with GPU-ffff"),
    ("0,,1", "--gpus 0,,1: '' is neither a GPU index nor a GPU-... UUID"),
    ("-1", "--gpus -1: '-1' is neither a GPU index nor a GPU-... UUID"),
])
def test_gpus_flag_errors(flag: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        select_gpu_indices(4, UUIDS, None, flag)
    assert str(error.value) == message and "\n" not in message


def test_single_gpu_error_wording() -> None:
    with pytest.raises(ValueError, match=r"this machine has 1 GPU: index 0\)$"):
        select_gpu_indices(1, UUIDS[:1], None, "1")


def test_hang_blocks_until_released_and_reads_go_on() -> None:
    fake = two_gpus()
    hang = fake.hang(1, at_tick=1)
    collector = GpuCollector(fake, [0, 1])
    collector.read(0.0)
    rows: list[dict[str, object]] = []
    reader = threading.Thread(target=lambda: rows.append(collector.read(0.1)))
    reader.start()
    assert hang.started.wait(5)
    reader.join(0.05)
    assert reader.is_alive() and rows == []
    hang.release()
    reader.join(5)
    assert not reader.is_alive()
    assert rows[0]["gpu1_util_pct"] == 99.0
    assert collector.read(0.2)["gpu1_util_pct"] == 98.0  # a hang fires once


def test_hang_for_some_seconds_returns_by_itself() -> None:
    fake = FakeNvml(1)
    hang = fake.hang(0, at_tick=0, field_name="power_w", seconds=0.02)
    row = GpuCollector(fake, [0]).read(0.0)
    assert hang.started.is_set() and row["gpu0_power_w"] == 150.0


def test_close_releases_a_hang() -> None:
    fake = FakeNvml(1)
    hang = fake.hang(0, at_tick=0)
    collector = GpuCollector(fake, [0])
    reader = threading.Thread(target=collector.read, args=(0.0,))
    reader.start()
    assert hang.started.wait(5)
    collector.close()
    reader.join(5)
    assert not reader.is_alive()


def test_each_gpu_is_read_on_its_own_and_has_its_own_tick() -> None:
    fake = two_gpus(lost_at_tick=2)
    collector = GpuCollector(fake, [0, 1])
    first, second = collector.devices
    rows = [first.read(k / 10) for k in range(4)]
    assert list(rows[0]) == columns(0) and [r["gpu0_util_pct"] for r in rows] == [0.0, 1.0, 2.0, 3.0]
    assert fake.ticks == [3, 0]  # gpu1 was not read: still at its first round, not lost
    assert second.read(0.0)["gpu1_util_pct"] == 100.0 and not second.lost
    assert collector.drain_notices() == []


def test_fake_is_deterministic() -> None:
    def run() -> list[dict[str, object]]:
        fake = two_gpus(lost_at_tick=2)
        fake.fail(0, "temp_c", ticks=[1])
        collector = GpuCollector(fake, [0, 1])
        return [collector.read(k / 10) for k in range(4)]

    assert run() == run()


def test_fake_covers_every_schema_field() -> None:
    assert set(FIELDS) == {name.removeprefix("{p}_") for name in GPU_COLUMN_TEMPLATE}
    fake = FakeNvml(1)
    fake.begin_tick(0)
    assert all(fake.read_field(0, f) is not None for f in FIELDS)
