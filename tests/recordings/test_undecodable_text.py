"""Text that is no UTF-8: Linux takes any bytes for a host name or a command line, and Python reads them as lone
surrogates ("\\udcff"), which no UTF-8 file or terminal takes.  The recorder's report, `report`, `compare` and
`report --group` write them as U+FFFD instead of dying at the close with a UnicodeEncodeError."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors import hostinfo
from recordings.report import write_session_report
from recordings.session import read_meta, write_json_atomic
from rigscope.cli import main
from tests.recordings.report_sessions import record

HOST = "gpu\udcffbox"  # the bytes b"gpu\xffbox", as socket.gethostname() gives them


@pytest.fixture
def session(tmp_path: Path) -> Path:
    session = record(tmp_path, seconds=20, hz=1)
    meta = read_meta(session)
    meta["host"]["hostname"] = HOST
    meta["notes"] = "run on \udcff"
    write_json_atomic(session / "meta.json", meta)
    return session


def test_the_session_report_is_written(session):
    report = write_session_report(session).read_text(encoding="utf-8")
    assert "gpu\ufffdbox" in report


def test_report_and_compare_print_it(session, capsys):
    assert main(["report", str(session)]) == 0
    assert "gpu\ufffdbox" in capsys.readouterr().out
    assert main(["compare", str(session), "--dir", str(session.parent)]) == 0
    capsys.readouterr().out.encode("utf-8")


def test_the_host_name_is_recorded_as_text_any_reader_takes(monkeypatch):
    monkeypatch.setattr(hostinfo.socket, "gethostname", lambda: HOST)
    assert hostinfo.host_info()["hostname"] == "gpu\ufffdbox"


def test_a_report_that_fails_at_the_close_is_said_and_the_session_stays_complete(tmp_path, monkeypatch):
    """Whatever the report trips on at the close (here a ValueError), the samples and meta.json are final: the
    session is complete, meta.json says why report.md is missing, and the recorder's thread does not die."""
    import recordings.report as report

    def broken(session: Path) -> Path:
        raise ValueError("a reading no section expected")

    monkeypatch.setattr(report, "write_session_report", broken)
    session = record(tmp_path, seconds=5, hz=1)
    meta = read_meta(session)
    assert meta["status"] == "complete" and not (session / "report.md").exists()
    assert "report.md not written: ValueError: a reading no section expected; `rigscope repair` writes it once " \
           "fixed" in meta["warnings"]
