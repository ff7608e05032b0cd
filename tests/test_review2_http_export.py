"""Second review: POST /events always needs the session's token (another local user must not write into a
session), and `export` never writes over the session it exports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from recordings.events import read_events
from rigscope.cli import main
from tests.afterrun.conftest import snapshot
from tests.conftest import run_cli
from tests.http.conftest import request, serving

TAG = json.dumps({"kind": "tag", "state": "pwned"}).encode()


def post(port: int, authorization: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    return request(port, "POST", "/events", TAG, headers)[0]


def tags(session: Path) -> list[str]:
    return [e["state"] for e in read_events(session / "events.jsonl") if e["kind"] == "tag"]


# -- 1. POST /events needs a token, also from loopback --------------------------------
def test_a_loopback_post_without_the_sessions_token_is_refused_and_counted(tmp_path):
    with serving(tmp_path) as monitor:
        port, token = monitor.http.port, monitor.session_token
        assert token  # made for the session, as for --probe-udp
        for authorization in (None, "Bearer wrong", f"Basic {token}", "Bearer "):
            assert post(port, authorization) == 401
        assert monitor.event_stats()["refused_token"] == 4
        assert request(port, "GET", "/metrics/summary")[0] == 200  # reads keep their rules
        assert request(port, "GET", "/healthz")[0] in (200, 503)
        assert post(port, f"Bearer {token}") == 202
        monitor.request_stop()
        monitor.stop()
        assert tags(monitor.session) == ["pwned"]  # the one with the token, and only it


@pytest.mark.skipif(os.geteuid() != 0 or not (shutil.which("setpriv") and shutil.which("curl")),
                    reason="needs root, setpriv and curl to post as another user")
def test_another_local_user_cannot_tag_the_session(tmp_path):
    with serving(tmp_path) as monitor:
        done = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "curl", "-s",
                               "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                               f"127.0.0.1:{monitor.http.port}/events", "-d", TAG.decode()],
                              capture_output=True, text=True, timeout=30)
        assert done.stdout == "401", done.stderr
        monitor.request_stop()
        monitor.stop()
        assert tags(monitor.session) == [] and monitor.event_stats()["refused_token"] == 1


def test_the_http_and_udp_channels_share_one_session_token(tmp_path):
    with serving(tmp_path, probe_udp=0) as monitor:
        assert monitor.udp_address()["token"] == monitor.session_token == monitor.http.token


def test_an_http_token_given_replaces_the_sessions(tmp_path):
    with serving(tmp_path, http_token="s3cret") as monitor:
        assert post(monitor.http.port, f"Bearer {monitor.session_token}") == 401
        assert post(monitor.http.port, "Bearer s3cret") == 202


def test_record_prints_the_token_and_another_user_without_it_writes_nothing(tmp_path):
    done = run_cli("record", "--source", "sim", "--speed", "max", "--hz", "2", "--duration", "5s",
                   "--dir", str(tmp_path), "--http", "127.0.0.1:0")
    assert done.returncode == 0, done.stderr
    said = done.stdout + done.stderr
    assert "Authorization: Bearer " in said, said
    (session,) = tmp_path.iterdir()
    assert tags(session) == []


# -- 2. export never writes over the session it exports ------------------------------
@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rec")
    done = run_cli("record", "--source", "sim", "--speed", "max", "--hz", "2", "--duration", "10s", "--dir", str(root))
    assert done.returncode == 0, done.stderr
    (session,) = root.iterdir()
    return session


@pytest.mark.parametrize(("kind", "name"), [("chrome-trace", "events.jsonl"), ("parquet", "samples.parquet"),
                                            ("csv", "meta.json"), ("json", "new.jsonl"), ("long-csv", "x.long.csv")])
def test_export_into_the_session_folder_is_refused(recorded, kind, name, capsys):
    before = snapshot(recorded)
    assert main(["export", str(recorded), "--to", kind, "--out", str(recorded / name)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "session" in err, err
    assert snapshot(recorded) == before  # nothing written, nothing replaced


def test_export_through_a_symlink_or_a_relative_path_is_refused(recorded, tmp_path, capsys, monkeypatch):
    before = snapshot(recorded)
    link = tmp_path / "link"
    link.symlink_to(recorded)
    assert main(["export", str(recorded), "--to", "parquet", "--out", str(link / "samples.parquet")]) == 2
    monkeypatch.chdir(recorded / "..")
    assert main(["export", str(recorded), "--to", "chrome-trace", "--out", f"{recorded.name}/./events.jsonl"]) == 2
    monkeypatch.chdir(recorded)  # the default name lands in the current folder: here, the session's
    assert main(["export", str(recorded), "--to", "csv"]) == 2
    assert snapshot(recorded) == before
    assert capsys.readouterr().err.count("\n") == 3


def test_export_onto_a_hard_link_of_an_input_is_refused(recorded, tmp_path, capsys):
    before = snapshot(recorded)
    outside = tmp_path / "samples.parquet"
    os.link(recorded / "samples.parquet", outside)
    assert main(["export", str(recorded), "--to", "parquet", "--out", str(outside)]) == 2
    assert snapshot(recorded) == before


def test_export_beside_the_session_still_works(recorded, tmp_path):
    assert main(["export", str(recorded), "--to", "chrome-trace", "--out", str(tmp_path / "t.json")]) == 0
    assert (tmp_path / "t.json").stat().st_size > 0
