"""Sessions whose recorder died and that were not repaired: report, compare, checks and export read
what was flushed (segments and the last journal) and call the session `interrupted`, as `ls` does."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from recordings.compare.collect import session_figures
from recordings.export import export_session
from recordings.longcsv import sidecar
from recordings.repair import repair_session
from recordings.report import build_report
from recordings.report.data import load_session
from recordings.report.markdown import duration
from recordings.report.sections_signals import throttle
from recordings.session import read_meta, write_json_atomic
from rigscope import cli
from tests.recordings.hostile import interrupted
from tests.recordings.report_sessions import add_spans, record, span

CLOSED_KEYS = ("summary", "total_samples", "session_end")  # what only a close (or a repair) writes


def _unclose(session: Path, pid: int) -> None:
    """The session as its recorder on this host left it before closing: segments, a cut journal, no summary."""
    interrupted(session)
    meta = read_meta(session)
    for key in CLOSED_KEYS:
        meta.pop(key, None)
    meta["recorder"].update(pid=pid, hostname=socket.gethostname())
    write_json_atomic(session / "meta.json", meta)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete 2-GPU session with a collapse per GPU (read-only: tests use copies)."""
    return record(tmp_path_factory.mktemp("sessions"), seconds=400.0, gpus=2)


@pytest.fixture
def killed(recorded: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The session as a kill -9 leaves it, and a copy of that repaired by `rigscope repair`."""
    dead = shutil.copytree(recorded, tmp_path / "dead" / recorded.name)
    _unclose(dead, pid=2**22 + 1)  # above pid_max's default: never a live process
    repaired = shutil.copytree(dead, tmp_path / "repaired" / recorded.name)
    repair_session(repaired)
    return dead, repaired


def _sections(report: str) -> dict[str, str]:
    return {part.split("\n", 1)[0]: part for part in report.split("\n## ")[1:]}


def _rows(section: str) -> dict[str, str]:
    """`| name | value |` rows of a fields table."""
    cells = (line.strip("|").split("|") for line in section.splitlines() if line.startswith("|"))
    return {c[0].strip(): c[1].strip() for c in cells if len(c) == 2}


def test_report_of_an_unrepaired_session_has_the_numbers_of_the_repaired_one(killed):
    dead, repaired = killed
    assert "summary" not in read_meta(dead)
    assert load_session(dead).summary == load_session(repaired).summary
    ours, theirs = _sections(build_report(dead, warn=False)), _sections(build_report(repaired, warn=False))
    for title in ("Summary statistics per device", "Workload time per state", "Throttle time per cause",
                  "Collapse events"):
        assert title in ours
        assert ours[title] == theirs[title]
    mine, repaired_rows = _rows(ours["Configuration"]), _rows(theirs["Configuration"])
    assert int(mine["samples"]) > 700
    for name in ("duration", "samples", "sample rate", "start (UTC)", "end (UTC)"):
        assert mine[name] == repaired_rows[name], name
    assert mine["status"].startswith("interrupted")
    assert "rigscope repair" in mine["status"]
    assert "rigscope repair" not in repaired_rows["status"]


def test_checks_of_an_unrepaired_session_see_its_samples(killed, capsys):
    dead, repaired = killed
    check = "gpu0.max_temp_c < 85"
    codes = [cli.main(["report", str(s), "--check", check, "--out", str(s.parent / "r.md")]) for s in killed]
    err = capsys.readouterr().err
    assert codes[0] == codes[1]
    assert "unknown name" not in err
    verdicts = [line for line in err.splitlines() if check in line]
    assert len(verdicts) == 2 and verdicts[0] == verdicts[1]
    assert cli.main(["report", str(dead), "--check", "collapses == 0", "--out", str(dead.parent / "r.md")]) == 1
    assert "FAIL    collapses == 0  collapses=2" in capsys.readouterr().err  # a collapse per GPU was flushed


@pytest.mark.parametrize("closed", [False, True])
def test_a_check_on_a_session_without_samples_is_an_error_not_a_pass(recorded, tmp_path, capsys, closed):
    session = shutil.copytree(recorded, tmp_path / recorded.name)
    _unclose(session, pid=2**22 + 1)
    for part in (session / "samples").iterdir():
        part.unlink()
    if closed:
        repair_session(session)  # complete, with total_samples 0
        assert read_meta(session)["total_samples"] == 0
    code = cli.main(["report", str(session), "--check", "collapses == 0", "--out", str(tmp_path / "r.md")])
    err = capsys.readouterr().err
    assert code == 1
    assert "PASS" not in err
    assert len(err.strip().splitlines()) == 1
    assert "no samples" in err


def test_a_span_check_on_a_session_with_spans_and_no_samples_is_evaluated(recorded, tmp_path, capsys):
    """An imported span log has spans and no samples: its span checks have something to check."""
    session = shutil.copytree(recorded, tmp_path / recorded.name)
    _unclose(session, pid=2**22 + 1)
    for part in (session / "samples").iterdir():
        part.unlink()
    repair_session(session)
    add_spans(session, [span("generate", 1.5), span("generate", 2.5)])
    assert cli.main(["report", str(session), "--check", "spans.total == 2", "--out", str(tmp_path / "r.md")]) == 0
    assert "PASS    spans.total == 2" in capsys.readouterr().err


def _rounded(value: Any) -> Any:
    """Floats to 10 significant digits (a sum over other chunks of the same rows differs in the last bits)."""
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    return [_rounded(item) for item in value] if isinstance(value, list) else value


def _comparable(figures: dict[str, Any]) -> dict[str, Any]:
    return _rounded({key: value for key, value in figures.items() if key not in ("path", "status", "unfinished")})


def test_compare_of_an_unrepaired_session_has_the_figures_of_the_repaired_one(killed, capsys):
    dead, repaired = killed
    ours, theirs = session_figures(dead), session_figures(repaired)
    assert ours["duration_s"] > 390 and ours["samples"] > 700 and ours["devices"]["gpu0"]["max_temp_c"] is not None
    assert _comparable(ours) == _comparable(theirs)
    assert ours["status"] == "interrupted"
    assert cli.main(["compare", str(dead), "--dir", str(dead.parent)]) == 0
    err = capsys.readouterr().err
    assert f"{dead.name} is interrupted" in err
    assert "rigscope repair" in err


def test_export_sidecar_of_a_dead_recorder_says_interrupted(killed, tmp_path):
    dead, _ = killed
    path, rows = export_session(dead, "long-csv", tmp_path / "out.long.csv")
    assert rows > 0
    assert json.loads(sidecar(path).read_text())["status"] == "interrupted"
    assert read_meta(dead)["status"] == "recording"  # the session itself is left as it is


def test_export_sidecar_of_a_live_recording_says_recording(recorded, tmp_path):
    session = shutil.copytree(recorded, tmp_path / recorded.name)
    _unclose(session, pid=os.getpid())  # this process is alive: `ls` calls the session recording
    path, _ = export_session(session, "long-csv", tmp_path / "out.long.csv")
    assert json.loads(sidecar(path).read_text())["status"] == "recording"


def test_throttle_durations_near_a_minute_share_one_format(recorded, tmp_path):
    session = shutil.copytree(recorded, tmp_path / recorded.name)
    meta = read_meta(session)
    gpus = [device for prefix, device in meta["summary"]["devices"].items() if prefix.startswith("gpu")]
    for seconds, device in zip((59.97, 60.0), gpus, strict=True):
        device["throttle"] = {**device["throttle"], "throttled_s": seconds}
    write_json_atomic(session / "meta.json", meta)
    text = throttle(load_session(session))
    assert text is not None
    assert "60.0 s" not in text
    throttled = [line.split("|")[2].strip() for line in text.splitlines() if line.startswith("| gpu")]
    assert [cell.split(" (")[0] for cell in throttled] == ["1 min 00 s", "1 min 00 s"]
    assert duration(59.94) == "59.9 s"
