"""`rigscope import` of the RLE lab's CSVs (its three column sets) and their metadata files."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from recordings.catalog import catalog_row
from recordings.importers import import_file
from tests.afterrun.conftest import LAB, snapshot


def lab_ticks(path: Path) -> dict[str, dict[str, dict[str, str]]]:
    """timestamp -> device -> the first row of that device at that timestamp, read with the csv module."""
    ticks: dict[str, dict[str, dict[str, str]]] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            stamp, device = row.get("timestamp") or "", row.get("device")
            try:
                datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            except ValueError:
                continue
            if device in ("cpu", "gpu"):
                ticks.setdefault(stamp, {}).setdefault(device, row)
    return ticks


@pytest.mark.parametrize("name", LAB)
def test_each_lab_file_imports_tick_by_tick(lab, tmp_path, name):
    source = lab / name
    before = snapshot(lab)
    session, _ = import_file(source, tmp_path / "sessions")
    assert snapshot(lab) == before  # the input is only read
    ticks = lab_ticks(source)
    samples = pl.read_parquet(session / "samples.parquet")
    assert samples.height == len(ticks)  # one wide row per tick
    meta = json.loads((session / "meta.json").read_text())
    assert meta["monitoring"]["source"] == "imported" and meta["total_samples"] == len(ticks)
    assert catalog_row(session)["status"] == "imported"

    has_gpu = any("gpu" in rows for rows in ticks.values())
    assert ("gpu0_util_pct" in samples.columns) == has_gpu
    assert "legacy_cpu_collapse" in samples.columns or not any("cpu" in r for r in ticks.values())
    stamps = sorted(ticks, key=lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")))
    for position in (0, len(stamps) // 2, len(stamps) - 1):  # raw values kept, device by device
        for device, prefix in (("cpu", "cpu"), ("gpu", "gpu0")):
            row = ticks[stamps[position]].get(device)
            if row is None:
                continue
            assert samples[f"{prefix}_util_pct"][position] == pytest.approx(float(row["util_pct"]))
            assert samples[f"legacy_{prefix}_collapse"][position] == int(float(row["collapse"]))
            if device == "gpu":
                assert samples["gpu0_temp_c"][position] == pytest.approx(float(row["temp_c"]))
                assert samples["gpu0_power_w"][position] == pytest.approx(float(row["power_w"]))

    # The lab's made-up values are gone: its CPU power (125 W, or 125 W x util), its 50 °C, its a_load of 0.8.
    assert samples["cpu_power_w"].null_count() == samples.height
    for column in ("cpu_a_load", "gpu0_a_load"):
        if column in samples.columns:
            assert not (samples[column] == 0.8).any()
    if "workload_state" in next(iter(next(iter(ticks.values())).values())):  # the enhanced layout
        assert samples["cpu_temp_c"].null_count() == samples.height
        assert any("50 °C" in d for d in meta["imported"]["dropped"])
        assert any("a_load" in d for d in meta["imported"]["dropped"])
    # Derived values are recomputed by the analyze pipeline, not copied.
    assert samples["workload_state"].null_count() == 0 and samples["workload_source"].unique().to_list() == ["heuristic"]
    has_cpu = any("cpu" in rows for rows in ticks.values())
    assert set(meta["summary"]["devices"]) == {name for name, held in (("cpu", has_cpu), ("gpu0", has_gpu)) if held}
    assert meta["summary"]["samples"] == len(ticks)


def test_legacy_collapses_are_kept_beside_the_recomputed_ones(lab, tmp_path):
    source = lab / "reproducibility_test_1__rle_data_20251028_195412.csv"
    session, _ = import_file(source, tmp_path)
    samples = pl.read_parquet(session / "samples.parquet")
    ticks = lab_ticks(source)
    expected = sum(int(float(rows["gpu"]["collapse"])) for rows in ticks.values() if "gpu" in rows)
    assert expected > 0 and samples["legacy_gpu0_collapse"].sum() == expected
    assert samples["gpu0_collapse"].dtype == pl.Int8  # rigscope's own, from the recomputed signals


def test_the_gpu_power_limit_comes_back_from_the_lab_a_load(lab, tmp_path):
    session, item = import_file(lab / "pc__rle_20251028_08.csv", tmp_path)
    samples = pl.read_parquet(session / "samples.parquet")
    assert samples["gpu0_power_limit_w"].unique().to_list() == [200.0]  # 178.21 W at a_load 0.891, ...
    assert samples["gpu0_rle_smoothed"].null_count() < samples.height
    assert any("power limit 200 W" in w for w in item.warnings)
    assert samples["cpu_freq_mhz"][0] == pytest.approx(2496.0)  # cpu_freq_ghz 2.496


def test_torn_lines_are_skipped_and_counted(lab, tmp_path):
    session, item = import_file(lab / "pc__rle_20251027_09.csv", tmp_path)
    counted = {"no readable timestamp and device (cpu, gpu, gpuN)": {"rows": 26, "first_line": 4160}}
    assert item.skipped_rows == counted
    assert json.loads((session / "meta.json").read_text())["imported"]["skipped_rows"] == counted


def test_a_metadata_file_beside_the_csv_is_read(lab, tmp_path):
    source = tmp_path / "in" / "bench__rle_data_20251028_195412.csv"
    source.parent.mkdir()
    shutil.copy(lab / "reproducibility_test_1__rle_data_20251028_195412.csv", source)
    metadata = {"session_start": "2025-10-29T00:54:13", "model_name": "whisper-small", "training_mode": "inference",
                "notes": "fan at max", "hardware": {"cpu_count": 16, "gpu_enabled": True, "hwinfo_enabled": False},
                "monitoring": {"sample_hz": 1}, "total_samples": 360,
                "host": {"hostname": "labpc", "cpu_model": "Intel(R) Core(TM) i5-12400F"},
                "gpus": [{"index": 0, "name": "NVIDIA GeForce RTX 3060 Ti"}],
                "summary": {"cpu_collapses": 3, "gpu_collapses": 2, "max_temp": 60, "rle_range": "0.000-1.000"}}
    (source.parent / f"{source.stem}_metadata.json").write_text(json.dumps(metadata))
    session, _ = import_file(source, tmp_path / "sessions")
    meta = json.loads((session / "meta.json").read_text())
    assert (meta["model_name"], meta["training_mode"], meta["notes"]) == ("whisper-small", "inference", "fan at max")
    assert meta["host"]["hostname"] == "labpc" and meta["host"]["hardware_tier"] == "nvidia_rtx3060ti"
    assert meta["legacy_summary"]["gpu_collapses"] == 2 and meta["total_samples"] == 180
    assert meta["monitoring"]["sample_hz"] == 1 and meta["monitoring"]["source"] == "imported"
    assert session.name.endswith("-labpc")
    row = catalog_row(session)
    assert (row["tier"], row["device_type"], row["notes"]) == ("nvidia_rtx3060ti", "cuda", "fan at max")
