"""`rigscope compare`: groups and numbers on simulated sessions with known values, group-id expansion, outputs."""

from __future__ import annotations

import csv
import json
from datetime import datetime

import pytest

from recordings.compare.collect import session_figures
from recordings.compare.groups import compare
from recordings.compare.targets import resolve_targets
from recordings.errors import InputError
from recordings.session import read_meta
from rigscope.cli import main
from tests.recordings.report_sessions import add_spans, record, span


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    a1 = record(root, hz=1, host="alpha", tier="tier_a", start=datetime(2027, 1, 15, 8), group_id="rep-1")
    a2 = record(root, hz=1, host="alpha", tier="tier_a", start=datetime(2027, 1, 15, 9), group_id="rep-1")
    record(root, hz=1, gpus=2, host="beta", tier="tier_b", start=datetime(2027, 1, 15, 10))
    add_spans(a1, [span("tts", 1.0, peak_memory_mb=100.0, rtf=0.5, energy_j=10.0, text_length_tokens=10),
                   span("tts", 2.0, peak_memory_mb=200.0, rtf=1.5, energy_j=20.0, text_length_tokens=10)])
    add_spans(a2, [span("tts", 3.0, False, peak_memory_mb=300.0, rtf=1.0, energy_j=30.0, text_length_tokens=30)])
    return root


@pytest.fixture(scope="module")
def groups(root):
    paths, _ = resolve_targets([], root, every=True, demo=True)
    return {g["group"]: g for g in compare([session_figures(p) for p in paths], "hardware_tier")}


def test_groups_come_from_the_data(groups):
    assert list(groups) == ["tier_a", "tier_b"]
    assert len(groups["tier_a"]["sessions"]) == 2 and len(groups["tier_b"]["sessions"]) == 1
    assert [d["device"] for d in groups["tier_b"]["devices"]] == ["cpu", "gpu0", "gpu1"]
    assert groups["tier_a"]["hardware"]["hosts"] == "alpha" and groups["tier_a"]["hardware"]["gpus"] == "1× Test GPU"


def test_tts_figures_are_pooled_over_spans(groups):
    a = groups["tier_a"]
    assert a["spans"] == 3 and a["success_rate"] == pytest.approx(2 / 3)
    assert a["peak_memory_mb"] == pytest.approx({"mean": 200.0, "std": 100.0, "n": 3})
    assert a["rtf"] == pytest.approx({"mean": 1.0, "std": 0.5, "n": 3})
    assert a["energy_per_request_j"]["total"] == pytest.approx(20.0)
    assert a["energy_per_token_j"] == pytest.approx(60.0 / 50.0)
    assert groups["tier_b"]["spans"] == 0 and groups["tier_b"]["success_rate"] is None


def test_device_figures_per_group(root, groups):
    metas = [read_meta(p) for p in sorted(root.iterdir())]
    tier_a = [m for m in metas if m["host"]["hardware_tier"] == "tier_a"]
    gpu = next(d for d in groups["tier_a"]["devices"] if d["device"] == "gpu0")
    hours = sum(m["summary"]["duration_s"] for m in tier_a) / 3600
    events = sum(m["summary"]["devices"]["gpu0"]["collapse_events"] for m in tier_a)
    assert events == 2 and gpu["collapse_events"] == 2 and gpu["collapse_rate_per_h"] == pytest.approx(events / hours)
    assert gpu["max_temp_c"] == max(m["summary"]["devices"]["gpu0"]["max_temp_c"] for m in tier_a)
    thermal = sum(m["summary"]["devices"]["gpu0"]["throttle"]["thermal_s"] for m in tier_a)
    assert gpu["throttle_s"]["thermal"] == pytest.approx(thermal) and thermal > 0
    assert 0 < gpu["mean_power_w"] <= 700
    sm = [(m["summary"]["duration_s"], m["summary"]["devices"]["gpu0"]["mean_sm_active_pct"]) for m in tier_a]
    assert gpu["mean_sm_active_pct"] == pytest.approx(sum(s * v for s, v in sm) / sum(s for s, _ in sm))
    assert next(d for d in groups["tier_a"]["devices"] if d["device"] == "cpu")["mean_sm_active_pct"] is None
    # energy by the method each session measured it with: the simulated GPU's counter
    assert gpu["energy_method"] == "counter"
    assert gpu["measured_energy_j"] == pytest.approx(sum(m["summary"]["devices"]["gpu0"]["energy"]["energy_j"]
                                                          for m in tier_a))
    workload = groups["tier_a"]["workload_s"]
    assert workload["compute"] == pytest.approx(sum(m["summary"]["workload_seconds"]["compute"] for m in tier_a))


def test_group_id_expands_to_its_sessions(root):
    paths, _ = resolve_targets(["rep-1"], root)
    assert [read_meta(p)["group_id"] for p in paths] == ["rep-1", "rep-1"]
    with pytest.raises(InputError, match="no session 'nope'"):
        resolve_targets(["nope"], root)
    with pytest.raises(InputError, match="or --all"):
        resolve_targets([], root)


@pytest.mark.parametrize("by, names", [("host", ["alpha", "beta"]), ("session", None)])
def test_other_groupings(root, by, names):
    paths, _ = resolve_targets([], root, every=True, demo=True)
    got = [g["group"] for g in compare([session_figures(p) for p in paths], by)]
    assert got == (names or [p.name for p in paths])


def test_cli_terminal_and_out(root, tmp_path, capsys):
    assert main(["compare", "--all", "--demo", "--dir", str(root), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Hardware summary (by hardware_tier)" in out and "200 ± 100 MB (n=3)" in out
    assert "Per device" in out and "collapses/h" in out  # piped: tables only (the charts are for a terminal)
    data = json.loads((tmp_path / "comparison.json").read_text())
    assert [g["group"] for g in data["groups"]] == ["tier_a", "tier_b"]
    rows = list(csv.DictReader(open(tmp_path / "groups.csv")))
    assert rows[0]["group"] == "tier_a" and float(rows[0]["rtf_mean"]) == pytest.approx(1.0)
    assert {r["device"] for r in csv.DictReader(open(tmp_path / "devices.csv"))} == {"cpu", "gpu0", "gpu1"}
    assert "## Requests (spans)" in (tmp_path / "comparison.md").read_text()
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert {p.name for p in tmp_path.glob("*.png")} == {"peak_memory.png", "rtf.png", "success_rate.png",
                                                        "max_temp.png", "mean_power.png", "collapse_rate.png"}


def test_cli_group_argument_and_bad_session(root, capsys):
    assert main(["compare", "rep-1", "--by", "session", "--dir", str(root)]) == 0
    assert main(["compare", "missing", "--dir", str(root)]) == 1
    assert main(["compare", "--dir", str(root)]) == 2 and main(["compare", "rep-1", "--all", "--dir", str(root)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"rigscope: error: no session 'missing' in {root}",
        "rigscope compare: error: give sessions (or group ids) to compare, or --all",
        "rigscope compare: error: give sessions (or group ids) to compare, or --all"]


def test_all_leaves_out_a_corrupt_session_with_a_warning(tmp_path, capsys):
    record(tmp_path, seconds=10, hz=1)
    broken = tmp_path / "20270115-090000-broken"
    broken.mkdir()
    (broken / "meta.json").write_text('{"session_id": "20270115-0900')
    wrong = record(tmp_path, seconds=5, hz=1, start=datetime(2027, 1, 15, 10))
    (wrong / "samples.parquet").write_bytes(b"not parquet at all")
    assert main(["compare", "--all", "--demo", "--dir", str(tmp_path)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0].startswith("rigscope: warning: left out corrupt session 20270115-090000-broken")
    assert err[1].startswith(f"rigscope: warning: left out {wrong.name}: ") and "unreadable Parquet" in err[1]
    assert main(["compare", str(wrong), "--dir", str(tmp_path)]) == 1


def test_piped_output_has_no_progress_or_extra_lines(root, capsys):
    assert main(["compare", "--all", "--demo", "--dir", str(root)]) == 0
    assert capsys.readouterr().err == ""


def test_named_sessions_side_by_side_unless_by_groups_them(root, tmp_path, capsys):
    first, second = [p.name for p in resolve_targets(["rep-1"], root)[0]]  # two sessions of one hardware tier
    assert main(["compare", first, second, "--dir", str(root), "--out", str(tmp_path / "named")]) == 0
    groups = json.loads((tmp_path / "named" / "comparison.json").read_text())["groups"]
    assert [g["group"] for g in groups] == [first, second]
    assert all(g["sessions"] == [g["group"]] for g in groups)  # nothing summed across the two
    assert main(["compare", first, second, "--by", "hardware_tier", "--dir", str(root),
                 "--out", str(tmp_path / "tier")]) == 0
    assert [g["group"] for g in json.loads((tmp_path / "tier" / "comparison.json").read_text())["groups"]] == ["tier_a"]


def test_all_leaves_demo_sessions_out_unless_asked(root, capsys):
    with pytest.raises(InputError, match="but demo ones"):  # the fixture's sessions come from the simulator
        resolve_targets([], root, every=True)
    assert main(["compare", "--all", "--dir", str(root)]) == 1
    assert "--demo takes them in" in capsys.readouterr().err
    assert len(resolve_targets([], root, every=True, demo=True)[0]) == 3
    first = resolve_targets(["rep-1"], root)[0][0]  # a demo session named on the command line is compared
    assert main(["compare", first.name, "--dir", str(root)]) == 0


def test_charts_for_the_terminal(groups):
    from recordings.compare.charts import text_charts

    charts = "\n".join(text_charts(list(groups.values()), 100, colorless=True))
    assert "Real-time factor" in charts and "real time" in charts and "collapses per hour" in charts


def test_a_narrow_terminal_gets_whole_columns_in_parts_and_a_pipe_no_charts(root, capsys):
    from rigscope.compare_command import column_parts

    headers = ["group", "device", "max temp", "mean power", "collapses", "collapses/h", "throttled time",
               "power cap time"]
    rows = [["20270115-080000-alpha", "gpu0", "85.0 °C", "612.3 W", "3", "1.20", "12 s", "4 s"]]
    parts = column_parts(headers, rows, 80)
    assert len(parts) == 3 and all(part[:2] == [0, 1] for part in parts)  # the keys in each part
    assert sorted({i for part in parts for i in part}) == list(range(len(headers)))
    assert all(sum(max(len(headers[i]), len(rows[0][i])) + 3 for i in part) <= 80 for part in parts)
    assert main(["compare", "--all", "--demo", "--dir", str(root)]) == 0
    assert "┤" not in capsys.readouterr().out  # piped: the tables, no plotext charts
