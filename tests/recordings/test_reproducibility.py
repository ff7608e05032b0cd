"""`rigscope report --group`: the reproducibility figures on hand-made sessions whose values are known."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from recordings.group_render import markdown
from recordings.reproducibility import reproducibility
from rigscope.cli import main

GROUP = "20261201-120000-abc123"
UTIL = (50.0, 60.0, 70.0)  # gpu0 utilization in the run phase of the three repeats
TOKENS = (100.0, 110.0, 90.0)  # std 10, CV exactly 10%: still reproducible


def _session(root: Path, repeat: int, status: str = "complete", name: str | None = None,
             counter: bool = False) -> None:
    """1 Hz: 10 s baseline (util 10 %, 50 W, 40 °C), 10 s run (util UTIL, 200 W, 70+i °C), 5 s cooldown."""
    states = ["baseline"] * 10 + ["run"] * 4 + ["eval"] * 6 + ["cooldown"] * 5
    run = [s in ("run", "eval") for s in states]
    collapse = [1 if i in (12, 13, 16) else 0 for i in range(25)]  # two events in the run
    throttle = [0x20 if i in (11, 15) else (0x4 if i == 18 else 0) for i in range(25)]
    frame = pl.DataFrame({
        "elapsed_s": [float(i) for i in range(25)],
        "workload_state": states,
        "cpu_util_pct": [20.0] * 25,
        "cpu_power_w": [None] * 25,  # no RAPL: null figures, never made up
        "gpu0_util_pct": [UTIL[repeat - 1] if r else (10.0 if s == "baseline" else 5.0) for r, s in zip(run, states)],
        "gpu0_power_w": [200.0 if r else 50.0 for r in run],
        "gpu0_temp_c": [70.0 + repeat if r else 40.0 for r in run],
        "gpu0_collapse": collapse,
        "gpu0_throttle_reasons": throttle,
    }, schema_overrides={"cpu_power_w": pl.Float64, "gpu0_collapse": pl.Int8, "gpu0_throttle_reasons": pl.UInt64})
    if counter:  # the GPU drew 10 W more than its power readings say; its energy counter knows
        joules = [0.0]
        for r in run[:-1]:
            joules.append(joules[-1] + (210.0 if r else 60.0))
        frame = frame.with_columns(gpu0_energy_j=pl.Series([1e6 + j for j in joules]))
    session = root / (name or f"20261201-12000{repeat}-box")
    session.mkdir(parents=True)
    frame.write_parquet(session / "samples.parquet")
    meta = {"session_id": session.name, "status": status, "group_id": GROUP,
            "host": {"hostname": "box", "cpu_model": "EPYC 9654", "cpu_count_logical": 192},
            "gpus": [{"index": 0, "name": "NVIDIA H200", "driver_version": "570.1"}],
            "monitoring": {"source": "system", "sample_hz": 1.0},
            "run": {"repeat": repeat, "repeats": 3, "exit_code": 0, "wall_s": 10.0, "command_line": "python train.py"},
            "summary": {"spans": {"total": 5, "p50_duration_s": 0.5, "p95_duration_s": 0.8,
                                  "avg_tokens_per_sec": TOKENS[repeat - 1]}}}
    (session / "meta.json").write_text(json.dumps(meta))


@pytest.fixture
def group(tmp_path: Path) -> Path:
    for repeat in (1, 2, 3):
        _session(tmp_path, repeat)
    _session(tmp_path, 1, status="failed", name="20261201-120004-box")  # same group, left out
    return tmp_path


def _figures(root: Path) -> dict[str, dict]:
    return {figure["name"]: figure for figure in reproducibility(GROUP, root)["figures"]}


def test_known_values(group):
    figures = _figures(group)
    util = figures["gpu0.mean_util_pct"]
    assert util["values"] == list(UTIL) and util["mean"] == pytest.approx(60) and util["std"] == pytest.approx(10)
    assert util["cv"] == pytest.approx(1 / 6) and util["reproducible"] is False
    assert util["baseline_mean"] == pytest.approx(10) and util["delta_mean"] == pytest.approx(50)
    # The summary's integral (the trapezoid), each interval in the phase of the sample it starts at: the run's
    # last one, to the cooldown's 50 W, is 125 W, and so is the baseline's last one, to the run's 200 W.
    power = figures["gpu0.mean_power_w"]  # 1925 J over 10 s; the baseline's 575 J over 10 s
    assert power["mean"] == pytest.approx(192.5) and power["cv"] == 0 and power["reproducible"] is True
    assert power["baseline_mean"] == pytest.approx(57.5) and power["delta_mean"] == pytest.approx(135)
    energy = figures["gpu0.energy_j"]  # above idle: minus 57.5 W for the run's 10 s
    assert energy["mean"] == pytest.approx(1925) and energy["delta_mean"] == pytest.approx(1350)
    temp = figures["gpu0.max_temp_c"]
    assert temp["values"] == [71, 72, 73] and temp["std"] == pytest.approx(1) and temp["delta_mean"] == pytest.approx(32)
    assert figures["gpu0.collapses"]["values"] == [2, 2, 2] and figures["gpu0.collapses"]["reproducible"] is True
    assert figures["gpu0.throttle_thermal_fraction"]["mean"] == pytest.approx(0.2)
    assert figures["gpu0.throttle_power_fraction"]["mean"] == pytest.approx(0.1)
    tokens = figures["spans.tokens_per_s"]
    assert tokens["std"] == pytest.approx(10) and tokens["cv"] == pytest.approx(0.1) and tokens["reproducible"] is True
    assert figures["spans.p95_s"]["mean"] == pytest.approx(0.8) and figures["spans.p95_s"]["delta_mean"] is None
    assert figures["cpu.mean_power_w"]["mean"] is None and figures["cpu.energy_j"]["values"] == [None] * 3


def test_report_formats(group, capsys, tmp_path):
    assert main(["report", "--group", GROUP, "--dir", str(group)]) == 0
    text = capsys.readouterr().out
    assert "| gpu0.mean_util_pct | 3 | 60 % | 10 % | 16.7% | 50 % | NO |" in text
    assert "Not reproducible (CV over 10%): gpu0.mean_util_pct" in text
    assert "Left out: 20261201-120004-box (failed)" in text and "NVIDIA H200" in text
    assert main(["report", "--group", GROUP, "--dir", str(group), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["repeat"] for s in data["sessions"]] == [1, 2, 3] and data["hardware"][0]["sessions"] == 3
    out = tmp_path / "table.tex"
    assert main(["report", "--group", GROUP, "--dir", str(group), "--latex", "--out", str(out)]) == 0
    tex = out.read_text()
    assert tex.count(r"\begin{tabular}") == 2 and r"gpu0.mean\_util\_pct & 3 & 60 \% & 10 \% & 16.7\%" in tex
    assert r"box & EPYC 9654 & NVIDIA H200 & 570.1 & 3 \\" in tex


def test_unknown_group_is_one_line(group, capsys):
    assert main(["report", "--group", "nope", "--dir", str(group)]) == 1
    assert capsys.readouterr().err == f"rigscope: error: no complete session of group 'nope' in {group}\n"


def test_energy_and_its_baseline_come_from_the_counter_where_it_advances(tmp_path):
    for repeat in (1, 2, 3):
        _session(tmp_path, repeat, counter=True)
    report = reproducibility(GROUP, tmp_path)
    figures = {figure["name"]: figure for figure in report["figures"]}
    energy = figures["gpu0.energy_j"]  # 210 W by the counter for 10 s; above idle: minus its 60 W
    assert energy["mean"] == pytest.approx(2100) and energy["delta_mean"] == pytest.approx(1500)
    assert report["energy_methods"] == {"cpu": "none", "gpu0": "counter"}
    assert "Energy measured by: cpu none, gpu0 counter" in markdown(report)


def test_energy_method_without_a_counter_is_integrated_power(group):
    assert reproducibility(GROUP, group)["energy_methods"] == {"cpu": "none", "gpu0": "integrated_power"}


def test_throttle_fractions_are_of_the_time_the_bitmask_was_read(group):
    """The run's bitmask unread for its last 5 s (a failed read, a lost GPU): those seconds are unknown, not
    unthrottled, as in the session's own summary; divided over the whole run, thermal was 1 s of 10."""
    for samples in group.glob("*/samples.parquet"):
        frame = pl.read_parquet(samples)
        unread = pl.col("elapsed_s") >= 15  # the run's last 5 s, and the cooldown
        frame.with_columns(pl.when(unread).then(None).otherwise(pl.col("gpu0_throttle_reasons"))
                           .alias("gpu0_throttle_reasons")).write_parquet(samples)
    figures = _figures(group)
    assert figures["gpu0.throttle_thermal_fraction"]["mean"] == pytest.approx(1 / 5)  # 0x20 at 11 s, of 10 to 14 s
    assert figures["gpu0.throttle_power_fraction"]["mean"] == pytest.approx(0.0)  # 0x4 at 18 s was not read


def test_rapl_energy_goes_to_the_phase_of_the_time_it_measures(tmp_path):
    """A RAPL reading is the CPU's mean power over the tick that ends at it: the run's first sample still says
    the baseline's 30 W, the cooldown's first says the run's 100 W.  The run drew 100 W for its 10 s."""
    for repeat in (1, 2, 3):
        _session(tmp_path, repeat)
    for samples in tmp_path.glob("*/samples.parquet"):
        watts = [None] + [30.0] * 10 + [100.0] * 10 + [20.0] * 4  # the reading at t measures (t - 1, t]
        pl.read_parquet(samples).with_columns(cpu_power_w=pl.Series(watts, dtype=pl.Float64)).write_parquet(samples)
    figures = _figures(tmp_path)
    assert figures["cpu.energy_j"]["mean"] == pytest.approx(1000)
    assert figures["cpu.mean_power_w"]["mean"] == pytest.approx(100)
    assert figures["cpu.mean_power_w"]["baseline_mean"] == pytest.approx(30)
    assert figures["cpu.energy_j"]["delta_mean"] == pytest.approx(700)


def test_the_phases_split_the_summary_energy_of_the_session(tmp_path):
    """Baseline, run and cooldown integrals add up to the one the session's summary and report give, with uneven
    sampling and a gap in the power readings (the gap is bridged by neither)."""
    from recordings.report.aggregates import device_energy
    from recordings.report.data import load_session
    from recordings.reproducibility import _column_figures, _phases

    _session(tmp_path, 1)
    (session,) = tmp_path.iterdir()
    frame = pl.read_parquet(session / "samples.parquet")
    times = [0.0, 0.7, 2.0, 2.1, 4.0, 5.5, 6.0, 6.2, 8.0, 9.0, 10.0, 10.4, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0,
             19.0, 20.5, 21.0, 22.0, 23.0, 24.0]
    power = [float(50 + 7 * i) if i not in (5, 6, 15) else None for i in range(25)]
    rapl = [None, *(float(20 + 3 * i) for i in range(1, 25))]
    frame.with_columns(elapsed_s=pl.Series(times), gpu0_power_w=pl.Series(power, dtype=pl.Float64),
                       cpu_power_w=pl.Series(rapl, dtype=pl.Float64)).write_parquet(session / "samples.parquet")
    whole = device_energy(load_session(session), ["cpu", "gpu0"])
    samples = pl.read_parquet(session / "samples.parquet")
    run, baseline = _phases(samples)
    cooldown = _phases(samples.with_columns(
        workload_state=pl.when(pl.col("workload_state") == "cooldown").then(pl.lit("baseline")).otherwise(None)))[1]
    for prefix in ("cpu", "gpu0"):
        parts = [_column_figures(rows, prefix) for rows in (run, baseline, cooldown)]
        assert sum(part["energy_j"] for part in parts) == pytest.approx(whole[prefix]["energy_j"])
        assert sum(part["energy_s"] for part in parts) == pytest.approx(whole[prefix]["powered_s"])


def test_a_repeat_whose_command_failed_is_left_out(group):
    """A repeat that crashed a tenth of the way in (exit 1) closed `complete`, but its figures are of a crash, not of
    the workload: they would make a reproducible group look irreproducible. It is listed as left out, with its code."""
    _session(group, 3, name="20261201-120009-box")
    crashed = group / "20261201-120009-box" / "meta.json"
    meta = json.loads(crashed.read_text())
    meta["run"]["exit_code"] = 1
    crashed.write_text(json.dumps(meta))
    report = reproducibility(GROUP, group)
    assert _figures(group)["gpu0.max_temp_c"]["values"] == [71, 72, 73]
    assert "20261201-120009-box (exit 1)" in report["left_out"]
