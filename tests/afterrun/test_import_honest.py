"""Honest nulls: what the imported file never measured is null in the samples and absent (not 0) in the
summary, report, compare and checks; no device is made up."""

from __future__ import annotations

import json

import polars as pl
import pytest

from recordings.checks import CheckError, parse_check
from recordings.compare.collect import session_figures
from recordings.importers import import_file
from tests.afterrun.conftest import one_clear_line

GPU_ONLY = ("timestamp, index, utilization.gpu [%], temperature.gpu, power.draw [W], power.limit [W]\n"
            + "".join(f"2025/06/01 12:00:{n:02d}.000, 0, {50 + n} %, {60 + n}, {150 + n} W, 300.00 W\n"
                      for n in range(20)))
WITH_THROTTLE = ("timestamp, index, utilization.gpu [%], temperature.gpu, power.draw [W], power.limit [W], "
                 "clocks_throttle_reasons.active\n"
                 + "".join(f"2025/06/01 12:00:{n:02d}.000, 0, 90 %, 70, 290 W, 300.00 W, 0x{4 if n % 2 else 0:016x}\n"
                           for n in range(20)))


@pytest.fixture
def gpu_only(tmp_path):
    source = tmp_path / "gpu.csv"
    source.write_text(GPU_ONLY)
    session, _ = import_file(source, tmp_path / "s")
    return session


def test_no_cpu_device_and_no_throttle_are_made_up(gpu_only):
    meta = json.loads((gpu_only / "meta.json").read_text())
    summary = meta["summary"]
    assert set(summary["devices"]) == {"gpu0"} and "cpu_collapses" not in summary
    assert "throttle" not in summary["devices"]["gpu0"]
    assert summary["not_measured"]["cpu"] == "the source had no CPU columns"
    assert summary["not_measured"]["throttle.gpu0"] == "the source had no throttle column"
    samples = pl.read_parquet(gpu_only / "samples.parquet")
    for column in ("cpu_collapse", "cpu_rle_smoothed", "cpu_a_load", "cpu_rolling_peak", "gpu0_throttle_reasons"):
        assert samples[column].null_count() == samples.height, column
    assert samples["gpu0_rle_smoothed"].null_count() < samples.height  # what it had is derived as before


def test_a_check_on_what_was_never_measured_is_an_error(gpu_only):
    summary = json.loads((gpu_only / "meta.json").read_text())["summary"]
    check = parse_check("throttle.gpu0.thermal_fraction < 0.05")
    with pytest.raises(CheckError, match="^throttle.gpu0 is not in this session: the source had no throttle column$"):
        check.evaluate(summary)
    with pytest.raises(CheckError, match="^throttle.gpu0 is not in this session"):
        check.validate(summary)
    with pytest.raises(CheckError, match="^cpu is not in this session: the source had no CPU columns$"):
        parse_check("cpu.max_temp_c < 90").evaluate(summary)
    assert parse_check("gpu0.max_temp_c < 90").evaluate(summary)["passed"]


def test_report_and_compare_leave_it_out(gpu_only, rig):
    report = rig("report", str(gpu_only)).stdout
    assert "Throttle time per cause" not in report and "| cpu |" not in report
    figures = session_figures(gpu_only)
    assert set(figures["devices"]) == {"gpu0"} and figures["devices"]["gpu0"]["throttle_s"] is None


def test_a_throttle_column_is_accounted(tmp_path):
    source = tmp_path / "throttle.csv"
    source.write_text(WITH_THROTTLE)
    session, _ = import_file(source, tmp_path / "s")
    summary = json.loads((session / "meta.json").read_text())["summary"]
    assert summary["devices"]["gpu0"]["throttle"]["power_cap_s"] > 0
    assert "throttle.gpu0" not in summary.get("not_measured", {})


def test_collapses_without_what_the_rle_needs_are_unknown_not_zero(realworld, tmp_path, rig):
    session, _ = import_file(realworld / "gpu_glasses__nvidia_smi.csv", tmp_path / "s")  # no utilization column
    summary = json.loads((session / "meta.json").read_text())["summary"]
    assert set(summary["devices"]) == {f"gpu{i}" for i in range(8)}  # every GPU, though none has utilization
    assert all(d["collapse_events"] is None for d in summary["devices"].values())
    assert "gpu_collapses" not in summary
    with pytest.raises(CheckError, match="^collapses is not in this session"):
        parse_check("collapses == 0").evaluate(summary)
    assert "Not measured: the source lacks what the RLE needs" in rig("report", str(session)).stdout
    assert session_figures(session)["devices"]["gpu0"]["collapse_events"] is None
    # No utilization anywhere: no workload state is made up either.
    assert "workload_seconds" not in summary and summary["not_measured"]["workload"] == "the source had no utilization column"
    assert pl.read_parquet(session / "samples.parquet")["workload_state"].null_count() == summary["samples"]
    with pytest.raises(CheckError, match="^workload is not in this session"):
        parse_check("workload.idle_s > 0").evaluate(summary)


def test_report_check_on_a_quantity_the_source_never_had_is_an_error(gpu_only, rig):
    line = one_clear_line(rig("report", str(gpu_only), "--check", "throttle.gpu0.thermal_fraction < 0.05"))
    assert line == ("rigscope: error: --check 'throttle.gpu0.thermal_fraction < 0.05': "
                    "throttle.gpu0 is not in this session: the source had no throttle column")
    passed = rig("report", str(gpu_only), "--check", "gpu0.max_temp_c < 90")
    assert passed.returncode == 0 and "PASS    gpu0.max_temp_c < 90" in passed.stderr
    assert rig("report", str(gpu_only), "--check", "gpu0.max_temp_c > 90").returncode == 1
