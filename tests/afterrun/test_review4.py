"""After the run, adversarially: report, compare, report --group and ls on sessions that differ
(GPU counts, imported, all-null power, two samples) and on hostile text from another machine."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import stat
import threading
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from markdown_it import MarkdownIt

from recordings.checks import CheckError, checks_table, parse_check
from recordings.compare.charts import text_charts
from recordings.compare.collect import session_figures
from recordings.compare.groups import compare
from recordings.compare.tables import text_tables
from recordings.compare.targets import resolve_targets
from recordings.events import EVENTS, append_event
from recordings.report.aggregates import device_energy
from recordings.report.data import load_session
from recordings.reproducibility import reproducibility
from recordings.session import read_meta, write_json_atomic
from rigscope.cli import main
from tests.afterrun.conftest import copy_session, snapshot
from tests.recordings.report_sessions import add_spans, record, span
from tests.recordings.test_reproducibility import GROUP, _session

# Text a session from elsewhere may carry: a table's pipe, code, HTML and a link, a heading on a new line,
# rich markup and a terminal escape sequence (clear the screen).
HOSTILE = "box|one `x` <script>alert(1)</script> [/bold] \\| ok [site](http://example.com)\n# Heading\x1b[2J"
_CELL = re.compile(r"\\.|\|")  # GFM splits a row at each pipe that is not backslash-escaped


def cells(line: str) -> int:
    return sum(1 for match in _CELL.finditer(line.strip()[1:-1]) if match.group() == "|") + 1


def assert_tables_hold(markdown: str) -> None:
    """Every table keeps its shape (each row as many cells as its header, no row cut by a line break)
    and no HTML or raw escape sequence gets into the document."""
    assert "\x1b" not in markdown
    lines = markdown.splitlines()
    for number, line in enumerate(lines):
        if line.startswith("|"):
            header = number
            while header > 0 and lines[header - 1].startswith("|"):
                header -= 1
            assert cells(line) == cells(lines[header]), line
            following = lines[number + 1] if number + 1 < len(lines) else ""
            assert following.startswith("|") or not following.strip(), (line, following)
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    html = [t.content for t in tokens if t.type == "html_block"]
    html += [c.content for t in tokens if t.type == "inline" for c in t.children or [] if c.type == "html_inline"]
    assert not html, html
    links = [c for t in tokens if t.type == "inline" for c in t.children or [] if c.type == "link_open"]
    assert not links, links


@pytest.fixture(scope="module")
def hostile_pair(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two short 1-GPU sessions; the first's host, CPU and GPU names are hostile."""
    root = tmp_path_factory.mktemp("hostile")
    first = record(root, seconds=20, hz=2, host="one", start=datetime(2027, 1, 15, 8))
    record(root, seconds=20, hz=2, host="two", start=datetime(2027, 1, 15, 9))
    meta = read_meta(first)
    meta["host"].update(hostname=HOSTILE, cpu_model=HOSTILE)
    meta["gpus"][0]["name"] = HOSTILE
    write_json_atomic(first / "meta.json", meta)
    return root


def test_compare_of_hostile_names_keeps_tables_and_terminal_inert(hostile_pair, tmp_path, capsys):
    assert main(["compare", "--all", "--demo", "--by", "host", "--dir", str(hostile_pair), "--out",
                 str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "[/bold]" in out  # shown as text: not markup, not an escape sequence
    assert_tables_hold((tmp_path / "comparison.md").read_text())


def test_report_of_hostile_text_keeps_its_tables(hostile_pair, capsys):
    """Every field a session's meta.json and events.jsonl bring in, hostile: the report's tables stay tables."""
    session = sorted(hostile_pair.iterdir())[0]
    meta = read_meta(session)
    meta["host"].update(hardware_tier=HOSTILE, device_type=HOSTILE, os=HOSTILE)
    meta["gpus"][0]["driver_version"] = HOSTILE
    meta["monitoring"].update(source=HOSTILE, collectors=[HOSTILE, "`"])
    meta["recorder"].update(version=HOSTILE, argv=["record", "--notes", HOSTILE, "a\\|b", "``x"])
    meta.update(model_name=HOSTILE, notes=HOSTILE, training_mode=HOSTILE, session_start=meta["session_start"])
    meta["checks"] = [{"expression": f"gpu0.max_temp_c < 85 {HOSTILE}", "value": 1.0, "passed": True}]
    devices = meta["summary"]["devices"]
    devices[HOSTILE] = {**devices["gpu0"], "throttle": {"throttled_s": 1.0, "throttled_fraction": 0.1},
                        "energy": {"method": HOSTILE, "energy_j": 1.0,
                                   "self_check": {"counter_j": 1.0, "integrated_j": 1.0, "window_s": 1.0}}}
    write_json_atomic(session / "meta.json", meta)
    ts = meta["session_start"]
    for event in ({"kind": "note", "text": HOSTILE, "source": HOSTILE, "tags": [HOSTILE]},
                  {"kind": "tag", "state": HOSTILE, "source": HOSTILE},
                  {"kind": "alert", "device": HOSTILE, "alert": HOSTILE},
                  {"kind": "collapse_start", "device": HOSTILE, "start": 1.0, "end": None, "min_rle": 0.1}):
        append_event(session / EVENTS, {"ts": ts, **event})
    (session / "odd|name`.txt").write_text("x")
    assert main(["report", str(session)]) == 0
    report = capsys.readouterr().out
    assert_tables_hold(report)
    assert report.count("box\\|one \\`x\\` \\<script>") >= 10  # each field is there, escaped, not dropped


def test_a_check_expression_never_reaches_the_terminal_raw():
    """An escape sequence in a --check is refused with the sequence made visible; a control character that
    Python counts as a space (\\x1c) parses, and the pass/fail table shows it escaped."""
    with pytest.raises(CheckError) as refused:
        parse_check("gpu0.max_temp_c < 85 \x1b[2J")
    assert "\x1b" not in str(refused.value) and "\\x1b" in str(refused.value)
    check = parse_check("gpu0.max_temp_c\x1c< 85")
    shown = checks_table([check.evaluate({"devices": {"gpu0": {"max_temp_c": 40.0}}})])
    assert "\x1c" not in shown and "PASS" in shown


def test_a_gap_in_power_does_not_dilute_compares_mean_power(tmp_path):
    """Power read for the first half only: compare's mean power is the report's (power over the time it
    was read), not the energy spread over the whole session."""
    session = record(tmp_path, seconds=20, hz=1, host="gap")
    samples = pl.read_parquet(session / "samples.parquet")
    half = pl.int_range(pl.len()) >= samples.height // 2
    samples.with_columns(pl.when(half).then(None).otherwise(pl.col("gpu0_power_w")).alias("gpu0_power_w")) \
        .write_parquet(session / "samples.parquet")
    meta = read_meta(session)
    meta["summary"]["devices"]["gpu0"].pop("energy", None)  # a session from before energy methods were kept
    write_json_atomic(session / "meta.json", meta)
    reported = device_energy(load_session(session, warn=False), ["gpu0"])["gpu0"]
    (group,) = compare([session_figures(session)], "session")
    (gpu,) = [d for d in group["devices"] if d["device"] == "gpu0"]
    assert gpu["mean_power_w"] == pytest.approx(reported["mean_power_w"])  # one definition: energy / powered_s
    assert gpu["energy_j"] == pytest.approx(reported["energy_j"])


def test_group_report_of_hostile_names_is_inert(tmp_path, capsys):
    """report --group: the command line, host, CPU and GPU names are escaped in markdown and in LaTeX."""
    for repeat in (1, 2):
        session = record(tmp_path, seconds=10, hz=2, host=f"h{repeat}", start=datetime(2027, 1, 15, 8, repeat),
                         group_id="grp", run={"repeat": repeat, "command_line": HOSTILE, "exit_code": 0})
        meta = read_meta(session)
        meta["host"].update(hostname=HOSTILE, cpu_model=HOSTILE)
        meta["gpus"][0].update(name=HOSTILE, driver_version=HOSTILE)
        write_json_atomic(session / "meta.json", meta)
    assert main(["report", "--group", "grp", "--dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert_tables_hold(text)
    assert not [line for line in text.splitlines() if line.startswith("#") and "Heading" in line]
    assert main(["report", "--group", "grp", "--latex", "--dir", str(tmp_path)]) == 0
    assert "\x1b" not in capsys.readouterr().out


def test_report_out_onto_a_directory_leaves_nothing_beside_it(sim_session, tmp_path, capsys):
    target = tmp_path / "reports"
    target.mkdir()
    assert main(["report", str(sim_session), "--out", str(target)]) == 1
    assert "Is a directory" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"] and not list(target.iterdir())


def test_compare_charts_with_more_bars_than_the_terminal_holds_say_so(tmp_path):
    """Hundreds of sessions side by side: each chart that cannot show its bars is one line, drawn at once."""
    figures = session_figures(record(tmp_path, seconds=4, hz=1, host="many"))
    groups = compare([{**figures, "session": f"s{i}"} for i in range(300)], "session")
    charts = text_charts(groups, 100, colorless=True)
    assert charts and all(len(chart.splitlines()) == 1 and "600 bars do not fit 100 columns" in chart
                          for chart in charts)
    assert "┤" in "".join(text_charts(groups[:10], 100))  # a few sessions still get their bars


def test_achieved_rate_of_a_two_sample_session(tmp_path, capsys):
    """Two samples 0.1 s apart were taken at 10 Hz, as `ls` says; the report said 20 Hz (samples / duration)."""
    session = record(tmp_path, seconds=0.15, hz=10, host="short")
    meta = read_meta(session)
    assert meta["total_samples"] == 2 and meta["summary"]["duration_s"] == pytest.approx(0.1)
    assert main(["report", str(session)]) == 0
    assert "| sample rate | 10.00 Hz requested, 10.00 Hz achieved |" in capsys.readouterr().out
    assert main(["ls", "--json", "--dir", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["hz"] == pytest.approx(10.0)


def test_energy_above_idle_with_a_gap_in_the_baselines_power(tmp_path):
    """The baseline's power (50 W) unread for its second half: its mean power is still 50 W (the gap is not
    bridged, so the step to the run's 200 W is not in it either), so the energy above idle is the run's 1925 J
    (the trapezoid: its last second, to the cooldown's 50 W, counts 125 W) - 10 s x 50 W; divided over the whole
    baseline it was 20 W and 1725 J."""
    for repeat in (1, 2, 3):
        _session(tmp_path, repeat)
    for samples in tmp_path.glob("*/samples.parquet"):
        frame = pl.read_parquet(samples)
        gap = (pl.col("workload_state") == "baseline") & (pl.col("elapsed_s") >= 5)
        frame.with_columns(pl.when(gap).then(None).otherwise(pl.col("gpu0_power_w")).alias("gpu0_power_w")) \
            .write_parquet(samples)
    figures = {figure["name"]: figure for figure in reproducibility(GROUP, tmp_path)["figures"]}
    assert figures["gpu0.energy_j"]["mean"] == pytest.approx(1925)
    assert figures["gpu0.energy_j"]["delta_mean"] == pytest.approx(1425)


def test_compare_names_every_gpu_model_of_a_mixed_box(tmp_path):
    session = record(tmp_path, seconds=4, hz=1, gpus=3, host="mixed")
    meta = read_meta(session)
    for gpu, name in zip(meta["gpus"], ("NVIDIA RTX 4090", "NVIDIA RTX 3060", "NVIDIA RTX 4090")):
        gpu["name"] = name
    write_json_atomic(session / "meta.json", meta)
    (group,) = compare([session_figures(session)], "session")
    assert group["hardware"]["gpus"] == "2× NVIDIA RTX 4090 + 1× NVIDIA RTX 3060"


def test_one_span_has_no_standard_deviation(tmp_path, capsys):
    """A group with one span: its RTF is shown as that value with n=1, not '± 0' (a spread nothing measured)."""
    session = record(tmp_path, seconds=4, hz=1, host="one-span")
    add_spans(session, [span("tts", 2.0, rtf=0.5, peak_memory_mb=100.0)])
    (group,) = compare([session_figures(session)], "session")
    assert group["rtf"] == {"mean": 0.5, "std": None, "n": 1}
    assert main(["compare", str(session)]) == 0
    out = capsys.readouterr().out
    assert "0.500 (n=1)" in out and "±" not in out


def test_a_collapse_time_past_any_calendar_does_not_crash_the_report(tmp_path, capsys):
    """A damaged events.jsonl: a collapse at 1e308 s. The report lists it without a time of day."""
    session = record(tmp_path, seconds=4, hz=1, host="far")
    append_event(session / EVENTS, {"ts": read_meta(session)["session_start"], "kind": "collapse_end",
                                    "device": "gpu0", "start": 1e308, "end": 1e308, "min_rle": 0.1})
    assert main(["report", str(session)]) == 0
    assert "| gpu0 | 0.100 |" in capsys.readouterr().out


def test_a_session_named_twice_by_id_path_and_link_is_compared_once(tmp_path):
    root = tmp_path / "sessions"
    session = record(root, seconds=4, hz=1, host="once")
    (tmp_path / "link").symlink_to(session)
    paths, _ = resolve_targets([session.name, str(root / "." / session.name), str(tmp_path / "link")], root)
    assert paths == [session]


@pytest.mark.parametrize("flag", [["--check", "gpu0.max_temp_c < 0"], ["--plots", "plots"], ["--terminal-plots"]])
def test_a_session_only_flag_with_group_is_refused(tmp_path, capsys, flag):
    """report --group with --check: the check was silently not made and the command said 0 (passed)."""
    for repeat in (1, 2):
        _session(tmp_path, repeat)
    assert main(["report", "--group", GROUP, "--dir", str(tmp_path), *flag]) == 2
    assert capsys.readouterr().err.startswith("rigscope report: error: --check, --plots and --terminal-plots go")
    assert not (tmp_path / "plots").exists()


def test_a_malformed_check_is_bad_usage_not_a_failed_check(sim_session, tmp_path, capsys):
    """CI tells a typo in --check (exit 2, as `run --check`) from a check that failed (exit 1)."""
    assert main(["report", str(sim_session), "--check", "gpu0.max_temp_c <"]) == 2
    assert capsys.readouterr().err.startswith("rigscope report: error: --check 'gpu0.max_temp_c <': unexpected end")
    assert main(["report", str(sim_session), "--check", "gpu0.max_temp_c < 0", "--out", str(tmp_path / "r.md")]) == 1


def test_report_out_into_a_pipe_writes_into_it_and_leaves_it_a_pipe(sim_session, tmp_path):
    """`--out /dev/stdout` or a named pipe: the report goes through it; it was renamed over the pipe (as root,
    over a device such as /dev/null too), leaving a regular file in its place."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text(encoding="utf-8")), daemon=True)
    reader.start()
    try:
        code = main(["report", str(sim_session), "--out", str(pipe)])
        reader.join(timeout=10)
    finally:
        if reader.is_alive():  # the report never opened the pipe: the reader is let go (it waits for a writer)
            with contextlib.suppress(OSError):
                os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
            reader.join(timeout=10)
    assert code == 0 and stat.S_ISFIFO(pipe.stat().st_mode)
    assert received and received[0].startswith("# rigscope report: ")


def test_a_session_of_requests_alone_does_not_claim_no_collapse(realworld, tmp_path, capsys):
    """The TTS system's request log has spans and no samples: collapses were never measured."""
    assert main(["import", str(realworld / "synthesis_m1_air_20251113_013730.csv"), "--dir", str(tmp_path)]) == 0
    (session,) = tmp_path.iterdir()
    capsys.readouterr()
    assert main(["report", str(session)]) == 0
    report = capsys.readouterr().out
    assert "Not measured: the session has no device readings." in report and "No collapse event" not in report


def test_compare_says_memory_in_the_unit_it_computes(tmp_path):
    """16 × 2**30 bytes is 16 GiB (17.2 GB): the column said GB over a figure in GiB."""
    figures = session_figures(record(tmp_path, seconds=4, hz=1, host="mem"))
    groups = compare([figures], "session")
    title, headers, rows = text_tables(groups, "session")[0]
    assert rows[0][headers.index("memory GiB")] == "16"


@pytest.mark.parametrize("name", ["samples.parquet", "meta.json", "sub/report.md"])
def test_report_out_into_its_own_session_is_refused(sim_session, tmp_path, capsys, name):
    """`--out SESSION/samples.parquet` replaced the session's samples with markdown: the session was lost."""
    session = copy_session(sim_session, tmp_path)
    before = snapshot(session)
    assert main(["report", str(session), "--out", str(session / name)]) == 2
    assert f"is inside the session {session.name}: write it elsewhere" in capsys.readouterr().err
    assert snapshot(session) == before


def test_group_report_out_into_one_of_its_sessions_is_refused(tmp_path, capsys):
    for repeat in (1, 2):
        _session(tmp_path, repeat)
    (first, *_) = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    before = snapshot(first)
    assert main(["report", "--group", GROUP, "--dir", str(tmp_path), "--out", str(first / "samples.parquet")]) == 2
    assert f"is inside the session {first.name}" in capsys.readouterr().err
    assert snapshot(first) == before


def test_a_slow_logs_achieved_rate_keeps_its_digits(realworld, tmp_path, capsys):
    """A Jetson log of one line a minute: 0.017 Hz, as `ls` says; the report rounded it to 0.02 (18 % off)."""
    assert main(["import", str(realworld / "zetascope__gpu_stats.csv"), "--dir", str(tmp_path)]) == 0
    (session,) = tmp_path.iterdir()
    capsys.readouterr()
    assert main(["report", str(session)]) == 0
    assert "0.017 Hz achieved" in capsys.readouterr().out


def test_group_report_out_on_a_full_disk_keeps_the_old_file_whole(tmp_path, capsys, monkeypatch):
    """`report --group --out` wrote the file in place: a full disk left it cut; now whole or not at all, as
    `report --out`."""
    import errno

    for repeat in (1, 2):
        _session(tmp_path, repeat)
    from recordings import out_paths

    out = tmp_path.parent / f"{tmp_path.name}-group.md"
    out.write_text("the previous report\n")

    class HalfThenFull(io.FileIO):
        def write(self, data):  # half of it lands, then the disk is full
            super().write(bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device", self.name)

    monkeypatch.setattr(out_paths, "open", lambda path, mode: HalfThenFull(path, mode.replace("b", "")),
                        raising=False)
    assert main(["report", "--group", GROUP, "--dir", str(tmp_path), "--out", str(out)]) != 0
    monkeypatch.undo()
    assert out.read_text() == "the previous report\n" and "No space left" in capsys.readouterr().err
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]
