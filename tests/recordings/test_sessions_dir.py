"""`--dir` placeholders: `{host}` and `{date}` give one shared directory a hive layout."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from recordings.session import _host_slug, sessions_dir
from tests.conftest import run_cli


def test_placeholders_become_host_and_utc_date(monkeypatch):
    monkeypatch.delenv("RIGSCOPE_DIR", raising=False)
    moment = datetime(2026, 11, 23, 23, 59, tzinfo=UTC)
    path = sessions_dir("/shared/rigscope/host={host}/date={date}", now=moment)
    assert path == Path(f"/shared/rigscope/host={_host_slug()}/date=2026-11-23")
    monkeypatch.setenv("RIGSCOPE_DIR", "runs/{host}")
    assert sessions_dir() == Path(f"runs/{_host_slug()}").absolute()
    assert sessions_dir("plain/dir") == Path("plain/dir").absolute()  # printed paths are absolute


def test_without_dir_sessions_go_to_the_users_data_directory_wherever_rigscope_starts(tmp_path, monkeypatch):
    monkeypatch.delenv("RIGSCOPE_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert sessions_dir() == tmp_path / "data" / "rigscope" / "sessions"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    env = {"XDG_DATA_HOME": str(tmp_path / "data")}
    recorded = run_cli("record", "--source", "sim", "--speed", "max", "--duration", "2s", cwd=tmp_path / "a", env=env)
    assert recorded.returncode == 0, recorded.stderr
    assert str(tmp_path / "data" / "rigscope" / "sessions") in recorded.stderr + recorded.stdout  # absolute
    listed = run_cli("ls", cwd=tmp_path / "b", env=env)  # from another directory: the same sessions
    assert listed.returncode == 0 and "sim" in listed.stdout, listed.stderr


def test_a_recording_lands_in_the_hive_layout(tmp_path):
    pattern = str(tmp_path / "host={host}" / "date={date}")
    result = run_cli("record", "--source", "sim", "--speed", "max", "--duration", "2s", "--dir", pattern)
    assert result.returncode == 0, result.stderr
    (host_dir,) = tmp_path.iterdir()
    (date_dir,) = host_dir.iterdir()
    assert host_dir.name == f"host={_host_slug()}" and date_dir.name.startswith("date=20")
    (session,) = date_dir.iterdir()
    assert (session / "samples.parquet").is_file()
    noted = run_cli("note", "found through the pattern", "--dir", pattern)  # readers expand it the same way
    assert noted.returncode == 0, noted.stderr
    assert "found through the pattern" in (session / "events.jsonl").read_text()
