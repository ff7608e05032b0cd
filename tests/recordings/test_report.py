"""`rigscope report`: each section's content on a simulated session with known collapses, notes and spans;
report.md at close and at repair; plots; bad input."""

from __future__ import annotations

import hashlib
import json
import sys
import types

import pytest

from recordings import report as report_module
from recordings.events import EVENTS, read_events
from recordings.report import build_report, write_session_report
from recordings.report.data import load_session
from recordings.report.markdown import energy
from recordings.report.plots import plot_data
from recordings.report.sections_signals import energy_of
from recordings.session import read_meta
from rigscope.cli import main
from tests.recordings.report_sessions import add_note, add_spans, record, set_meta, span

CHECKS = [{"expression": "gpu0.max_temp_c < 85", "value": 84.7, "passed": True},
          {"expression": "collapses == 0", "value": 1, "passed": False},
          {"expression": "cpu.max_temp_c < 90 and collapses < 3", "value": None, "passed": True,
           "values": {"cpu.max_temp_c": 68.1, "collapses": 1}}]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    path = record(tmp_path_factory.mktemp("sessions"), group_id="g-7")
    add_note(path, 30, "warm-up done")
    add_note(path, 200, "lr | dropped")
    add_spans(path, [span("synth", 0.5, tokens_per_second=40.0), span("synth", 1.5, tokens_per_second=20.0),
                     span("synth", 1.0, False), span("load", 2.0)])
    set_meta(path, checks=CHECKS)
    return path


@pytest.fixture(scope="module")
def text(session):
    return build_report(session)


def section_of(text: str, title: str) -> str:
    part = text.split(f"## {title}\n", 1)[1]
    return part.split("\n## ", 1)[0]


def rows_of(part: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in part.splitlines()
            if line.startswith("| ") and not line.startswith("|  |")][1:]


def test_report_md_is_written_at_close(tmp_path):
    path = record(tmp_path, seconds=20)
    written = (path / "report.md").read_text()
    assert written.startswith(f"# rigscope report: {path.name}") and "## Configuration" in written


def test_sections_in_order(text):
    titles = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert titles == ["Configuration", "Hardware", "Checks", "Summary statistics per device",
                      "Workload time per state", "Throttle time per cause", "Collapse events",
                      "Processes during collapses", "Timeline of notes and tags", "Span statistics", "Alerts", "Data files"]


def test_configuration_and_hardware(text):
    config = section_of(text, "Configuration")
    for expected in ("| model name | llama-test |", "| training mode | finetune |", "| notes | report test |",
                     "| group | g-7 |", "`record --hz 2.0`", "2.00 Hz requested, 2.00 Hz achieved", "| samples | 800 |"):
        assert expected in config
    hardware = section_of(text, "Hardware")
    assert "| hardware tier | tier_a |" in hardware and "| 0 | Test GPU |" in hardware and "700 W" in hardware


def test_checks_table(text):
    checks = section_of(text, "Checks")
    assert "2 of 3 checks passed." in checks
    assert rows_of(checks) == [["`gpu0.max_temp_c < 85`", "84.7", "pass"], ["`collapses == 0`", "1", "**FAIL**"],
                               ["`cpu.max_temp_c < 90 and collapses < 3`", "cpu.max_temp_c = 68.1, collapses = 1",
                                "pass"]]


def test_device_statistics_match_the_summary(session, text):
    devices = read_meta(session)["summary"]["devices"]
    rows = {row[0]: row for row in rows_of(section_of(text, "Summary statistics per device"))}
    assert set(rows) == {"cpu", "gpu0"}
    assert rows["gpu0"][2] == f"{devices['gpu0']['max_temp_c']:.1f} °C"
    assert rows["gpu0"][7] == "1" and rows["cpu"][7] == "0"
    assert rows["gpu0"][3].endswith(" W")
    # energy by its method: the simulated GPU's counter (J → Wh), the simulated CPU's RAPL power
    gpu_j = devices["gpu0"]["energy"]["energy_j"]
    assert devices["gpu0"]["energy"]["method"] == "counter" and 3600 < gpu_j < 3.6e6
    assert rows["gpu0"][5] == f"{gpu_j / 3600:,.2f} Wh" and rows["gpu0"][-1] == "counter"
    assert rows["cpu"][-1] == "rapl"
    check = devices["gpu0"]["energy"]["self_check"]
    assert abs(check["difference_pct"]) < 0.5  # the simulated counter is the integral of its power curve
    assert f"- gpu0: counter {check['counter_j'] / 3600:,.2f} Wh, integrated power" in section_of(
        text, "Summary statistics per device")
    # SM activity (GPM) beside util: measured on the GPU, not on the CPU (not 0: unknown)
    assert rows["gpu0"][9] == f"{devices['gpu0']['mean_sm_active_pct']:.1f} %" and rows["cpu"][9] == "—"
    assert 0 < devices["gpu0"]["mean_sm_active_pct"] < devices["gpu0"]["mean_util_pct"]


def test_workload_and_throttle(session, text):
    seconds = read_meta(session)["summary"]["workload_seconds"]
    states = [row[0] for row in rows_of(section_of(text, "Workload time per state"))]
    assert states == sorted(seconds, key=lambda s: -seconds[s])
    throttle = rows_of(section_of(text, "Throttle time per cause"))
    assert [row[0] for row in throttle] == ["gpu0"] and "(" in throttle[0][1]


def test_collapse_table_matches_events(session, text):
    ends = [e for e in read_events(session / EVENTS) if e["kind"] == "collapse_end"]
    rows = rows_of(section_of(text, "Collapse events"))
    assert len(rows) == len(ends) == 1
    start, end, duration, device, min_rle, max_temp, evidence = rows[0]
    assert device == ends[0]["device"] == "gpu0" and min_rle == f"{ends[0]['min_rle']:.3f}"
    assert start.startswith("+00:05:") and 300 < ends[0]["start"] < 330  # the thermal_throttle phase
    assert "thermal" in evidence and "throttle" in evidence and max_temp.endswith("°C")


def test_the_samples_are_read_a_chunk_at_a_time(session, text, monkeypatch):
    """Queries over every sample (energy, collapse evidence) go a chunk at a time: memory flat in the session's
    length, and the same report."""
    from recordings.report import data as data_module

    sizes = []
    chunks = data_module.lazy_chunks
    monkeypatch.setattr(data_module, "CHUNK_ROWS", 7)
    monkeypatch.setattr(data_module, "lazy_chunks",
                        lambda query, rows: (sizes.append(chunk.height) or chunk for chunk in chunks(query, rows)))
    assert build_report(session) == text
    assert max(sizes) == 7 and len(sizes) > 100
    chunked = plot_data(load_session(session), max_points=50).table
    monkeypatch.setattr(data_module, "CHUNK_ROWS", 1_000_000)
    whole = plot_data(load_session(session), max_points=50).table
    assert chunked.height == whole.height >= 50 and chunked.columns == whole.columns
    for column in whole.columns:  # a bin that straddles two chunks has the mean of its samples all the same
        assert chunked[column].to_list() == pytest.approx(whole[column].to_list(), rel=1e-12), column


def test_timeline_of_notes(text):
    rows = rows_of(section_of(text, "Timeline of notes and tags"))
    assert [(r[0], r[2], r[3]) for r in rows] == [("+00:00:30", "note", "warm-up done"),
                                                 ("+00:03:20", "note", "lr \\| dropped")]


def test_span_statistics(text):
    spans = section_of(text, "Span statistics")
    assert "| spans | 4 |" in spans and "| success rate | 75.0 % |" in spans and "| failed | 1 |" in spans
    per_name = {row[0]: row for row in rows_of(spans.split("| span | count")[1].join(["| span | count", ""]))}
    assert per_name["synth"][1] == "3" and per_name["synth"][2] == "66.7 %" and per_name["synth"][3] == "1.000 s"
    assert per_name["load"][1] == "1" and per_name["synth"][6] == "30.0"


def test_alerts_and_files(session, text):
    alerts = rows_of(section_of(text, "Alerts"))
    assert ("gpu0", "TEMP_LIMIT") in {(row[0], row[1]) for row in alerts}
    files = section_of(text, "Data files")
    size = (session / "samples.parquet").stat().st_size
    assert "`samples.parquet`" in files and "`spans.parquet`" in files and "report.md" not in files
    assert f"{size / 1024:.1f} KiB" in files


def test_a_section_is_one_line_to_add(session, monkeypatch):
    monkeypatch.setattr(report_module, "SECTIONS", [*report_module.SECTIONS, lambda data: "## Extra\n\nhello"])
    assert build_report(session).rstrip().endswith("## Extra\n\nhello")


def test_cli_out_and_plots(session, tmp_path, capsys):
    out, plots = tmp_path / "r.md", tmp_path / "plots"
    assert main(["report", str(session), "--out", str(out), "--plots", str(plots)]) == 0
    assert out.read_text() == build_report(session)
    assert {p.name for p in plots.glob("*.txt")} == {"utilization.txt", "temperature.txt", "power.txt"}
    assert "Temperature" in (plots / "temperature.txt").read_text()
    power = (plots / "power.txt").read_text()  # a ~100 W CPU on its own axis, not under 700 W GPUs
    assert "Power (GPUs)" in power and "Power (CPU)" in power
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "rigscope[plots]" in capsys.readouterr().err
    else:
        pngs = sorted(plots.glob("*.png"))
        assert [p.name for p in pngs] == ["power.png", "temperature.png", "utilization.png"]
        assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000 for p in pngs)


def test_without_matplotlib_plots_say_so_once(session, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    assert main(["report", str(session), "--plots", str(tmp_path), "--out", str(tmp_path / "r.md")]) == 0
    err = capsys.readouterr().err
    assert err.count('pip install "rigscope[plots]"') == 1 and not list(tmp_path.glob("*.png"))


def test_terminal_plots_when_asked(session, capsys):
    assert main(["report", str(session), "--terminal-plots"]) == 0
    out = capsys.readouterr().out
    assert out.index("## Data files") < out.index("Utilization:") and "time since start (min)" in out


def test_usage_errors_and_group_dispatch(session, monkeypatch, capsys):
    assert main(["report"]) == 2 and main(["report", str(session), "--group", "g"]) == 2
    assert main(["report", str(session), "--latex"]) == 2
    assert "give a SESSION or --group" in capsys.readouterr().err
    seen = []
    monkeypatch.setitem(sys.modules, "rigscope.group_report_command",
                        types.SimpleNamespace(run=lambda args: seen.append((args.group, args.latex)) or 0))
    assert main(["report", "--group", "g-7", "--latex"]) == 0 and seen == [("g-7", True)]


def _digest(path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("damage", ["truncated_parquet", "random_parquet", "meta_types", "cut_meta", "gpus_type"])
def test_corrupt_input_is_one_line(tmp_path, damage, capsys):
    path = record(tmp_path, seconds=10)
    target = path / "samples.parquet"
    if damage == "truncated_parquet":
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    elif damage == "random_parquet":
        target.write_bytes(bytes(range(256)) * 40)
    elif damage == "meta_types":
        set_meta(path, summary={"devices": {"gpu0": []}})
    elif damage == "gpus_type":
        set_meta(path, gpus="two", checks=[{"expression": 1, "passed": "yes"}])
    else:
        (path / "meta.json").write_text((path / "meta.json").read_text()[:50])
    before = _digest(path)
    assert main(["report", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rigscope: error: ") and "Traceback" not in err
    assert _digest(path) == before


def test_cut_event_line_is_skipped_with_a_warning(tmp_path, capsys):
    path = record(tmp_path, seconds=10)
    add_note(path, 2, "kept")
    with open(path / EVENTS, "a") as handle:
        handle.write('{"ts": "2027-01-15T08:00:03Z", "kind": "no')
    assert main(["report", str(path)]) == 0
    captured = capsys.readouterr()
    assert "skipped an invalid event line" in captured.err and "| note | kept |" in captured.out


def test_repair_writes_the_report(tmp_path):
    from recordings.repair import repair_session

    path = record(tmp_path, seconds=10)
    (path / "report.md").unlink()
    set_meta(path, status="recording")
    repair_session(path, force=True)  # its recorder, on another host, wrote a moment ago: it looks live
    assert "| status | interrupted |" in (path / "report.md").read_text()


def test_write_session_report_returns_its_path(session):
    assert write_session_report(session) == session / "report.md"
    assert load_session(session).meta["checks"] == CHECKS
    assert json.loads((session / "meta.json").read_text())["group_id"] == "g-7"


@pytest.mark.parametrize(("joules", "shown"), [(0.0, "0.0 J"), (850.0, "850.0 J"), (3599.9, "3,599.9 J"),
                                              (3600.0, "1.00 Wh"), (45_000.0, "12.50 Wh"),
                                              (3.6e6, "1.000 kWh"), (9.0e9, "2,500.000 kWh"), (None, "—")])
def test_energy_units(joules, shown):
    assert energy(joules) == shown


def test_energy_method_from_the_summary_and_uncertain_or_from_power_for_an_older_session():
    counted = {"energy": {"method": "counter", "energy_j": 12.0, "uncertain": True}}
    assert energy_of("gpu0", counted, 99.0) == (12.0, "counter", True)
    assert energy_of("gpu0", {}, 99.0) == (99.0, "integrated_power", False)
    assert energy_of("cpu", {}, 5.0) == (5.0, "rapl", False)
    assert energy_of("gpu1", {}, None) == (None, "none", False)
