"""Which recorder gets an event: the newest of this user's, the one RIGSCOPE_SESSION or --session
picks, and over UDP only with the session's token."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile

import pytest

from recordings.events import read_events
from rigscope.cli import main
from rigscope.monitor import Monitor, MonitorConfig
from tests.conftest import REPO
from tests.waiting import wait_sync

NOTE = "import rigscope\nfrom rigscope import probe\nrigscope.note('from the workload')\nprobe.flush(2.0)\n" \
       "print(probe.stats()['sent'], probe.stats()['dropped'])\n"


@pytest.fixture
def two(tmp_path, runtime):
    """Two recorders of this user: `older`, then `newer`."""
    monitors = []
    for _ in ("older", "newer"):
        monitor = Monitor(MonitorConfig(source="sim", speed=1.0, hz=20, directory=str(tmp_path)))
        monitor.start()
        monitors.append(monitor)
        wait_sync(lambda: os.stat(monitor.event_stats()["socket"]).st_mtime_ns > os.stat(monitors[0].event_stats()["socket"]).st_mtime_ns
                  or monitor is monitors[0], 5, "a later socket")
    yield monitors
    for monitor in monitors:
        monitor.stop()


def notes_of(monitor: Monitor) -> list[str]:
    return [e["text"] for e in read_events(monitor.session / "events.jsonl") if e["kind"] == "note"]


def test_note_picks_the_newest_and_says_so_or_the_one_asked_for(two, capsys, monkeypatch):
    older, newer = two
    assert main(["note", "to whichever"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"note added to running session {newer.session.name} (the newest of 2 running: "
                          f"{newer.session.name}, {older.session.name}; pick one with --session or RIGSCOPE_SESSION)")
    monkeypatch.setenv("RIGSCOPE_SESSION", older.session.name)
    assert main(["note", "to the older by env"]) == 0
    assert capsys.readouterr().out == f"note added to running session {older.session.name}\n"
    assert main(["tag", "eval"]) == 0
    assert capsys.readouterr().out == f"tagged {older.session.name}: eval\n"
    monkeypatch.delenv("RIGSCOPE_SESSION")
    assert main(["note", "--session", str(older.session), "to the older by path"]) == 0
    capsys.readouterr()
    for monitor in two:
        monitor.stop()
    assert notes_of(newer) == ["to whichever"]
    assert notes_of(older) == ["to the older by env", "to the older by path"]
    tags = [e for e in read_events(older.session / "events.jsonl") if e["kind"] == "tag"]
    assert [t["state"] for t in tags] == ["eval"]


def test_the_probe_reaches_the_newest_or_the_session_it_was_given(two):
    older, newer = two
    for env in ({}, {"RIGSCOPE_SESSION": older.session.name}, {"RIGSCOPE_SESSION": "20200101-000000-gone"}):
        done = subprocess.run([sys.executable, "-c", NOTE], cwd=REPO, capture_output=True, text=True, timeout=60,
                              env={**os.environ, **env}, check=True)
        assert done.stdout.split() == (["0", "1"] if "gone" in str(env) else ["1", "0"])  # a pick is never replaced
    wait_sync(lambda: older.event_stats()["received"] == 1 and newer.event_stats()["received"] == 1, 10, "one note each")


def test_rigscope_run_gives_its_child_its_session(tmp_path, runtime, monkeypatch, capfd):
    other = Monitor(MonitorConfig(source="sim", speed=1.0, hz=20, directory=str(tmp_path / "other")))
    other.start()
    try:
        child = ("import os, rigscope\nfrom rigscope import probe\nprint(os.environ['RIGSCOPE_SESSION'])\n"
                 "rigscope.note('from the child')\nprobe.flush(2.0)\n")
        assert main(["run", "--source", "sim", "--speed", "max", "--hz", "10", "--dir", str(tmp_path / "runs"),
                     "--baseline", "1s", "--cooldown", "1s", "--", sys.executable, "-c", child]) == 0
    finally:
        other.stop()
    (session,) = (tmp_path / "runs").iterdir()
    assert capfd.readouterr().out.strip() == session.name
    assert [e["text"] for e in read_events(session / "events.jsonl") if e["kind"] == "note"] == ["from the child"]
    assert notes_of(other) == []


def udp_send(port: int, payload: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(payload, ("127.0.0.1", port))


def test_udp_only_when_asked_and_only_with_the_token(tmp_path, runtime):
    plain = Monitor(MonitorConfig(source="sim", hz=20, directory=str(tmp_path / "plain")))
    assert plain.udp_address() is None and plain.receiver.port is None
    plain.release()
    monitor = Monitor(MonitorConfig(source="sim", speed=1.0, hz=20, directory=str(tmp_path), probe_udp=0))
    monitor.start()
    try:
        udp = monitor.udp_address()
        assert json.loads((monitor.session / "meta.json").read_text())["monitoring"]["probe_udp"] == udp
        elsewhere = tempfile.mkdtemp(prefix="rs-")  # a container: no socket of the recorder in sight
        base = {**os.environ, "XDG_RUNTIME_DIR": elsewhere, "RIGSCOPE_PROBE_UDP": str(udp["port"])}
        for token in ("", "wrong", udp["token"]):
            done = subprocess.run([sys.executable, "-c", NOTE], cwd=REPO, capture_output=True, text=True, timeout=60,
                                  env={**base, "RIGSCOPE_TOKEN": token}, check=True)
            assert done.stdout.split() == ["1", "0"]  # handed to the kernel: UDP cannot tell a refusal
        udp_send(udp["port"], b'{"kind": "note", "text": "no token line"}')
        udp_send(udp["port"], b'{"token": "' + udp["token"].encode() + b'"}\n{"kind": "note", "text": "by hand"}')
        receiver = monitor.receiver
        wait_sync(lambda: receiver.received == 2 and receiver.refused_token == 3, 10, "two taken, three refused")
    finally:
        monitor.stop()
        os.rmdir(elsewhere)
    assert notes_of(monitor) == ["from the workload", "by hand"]


def test_a_runtime_folder_made_by_someone_else_is_refused(tmp_path, runtime):
    from recordings.errors import InputError
    from rigscope import probe

    elsewhere = tempfile.mkdtemp(prefix="rs-")
    (runtime / "rigscope").symlink_to(elsewhere)  # made first, pointing where someone else reads
    with pytest.raises(InputError, match=re.escape("not a directory (a symlink?): refused")):
        Monitor(MonitorConfig(source="sim", hz=20, directory=str(tmp_path)))
    assert list(tmp_path.iterdir()) == []  # no session started
    probe.reset()
    import rigscope

    rigscope.note("nowhere")
    probe.flush()
    assert probe.dropped() == 1 and os.listdir(elsewhere) == []
    os.rmdir(elsewhere)


def test_note_and_tag_with_dir_go_to_the_recorder_writing_there(tmp_path, runtime, capsys):
    """Two recorders writing to two folders: --dir names the folder, so the newest elsewhere is not taken."""
    monitors = []
    for name in ("first", "second"):
        monitor = Monitor(MonitorConfig(source="sim", speed=1.0, hz=20, directory=str(tmp_path / name)))
        monitor.start()
        monitors.append(monitor)
    first, second = monitors
    try:
        wait_sync(lambda: os.stat(second.event_stats()["socket"]).st_mtime_ns >= os.stat(first.event_stats()["socket"]).st_mtime_ns, 5,
                  "the second socket")
        assert main(["note", "--dir", str(tmp_path / "first"), "into the first folder"]) == 0
        assert capsys.readouterr().out == f"note added to running session {first.session.name}\n"
        assert main(["tag", "--dir", str(tmp_path / "first"), "eval"]) == 0
        assert capsys.readouterr().out == f"tagged {first.session.name}: eval\n"
        wait_sync(lambda: notes_of(first) == ["into the first folder"], 10, "the note in the first folder")
        assert notes_of(second) == []
    finally:
        for monitor in monitors:
            monitor.stop()


def test_a_shared_session_folder_keeps_the_token_to_the_terminal(tmp_path, runtime):
    """--shared-dir lets other users read meta.json: the token (UDP events and POST /events) is not in
    it, nor in any other file of the session; a private folder (0700, the default) keeps it for `run`."""
    shared = Monitor(MonitorConfig(source="sim", speed=1.0, hz=20, directory=str(tmp_path / "shared"),
                                   probe_udp=0, shared_dir=True, http=("127.0.0.1", 0)))
    shared.start()
    try:
        token = shared.udp_address()["token"]
        assert token and shared.http.token == token
        meta = json.loads((shared.session / "meta.json").read_text())
        assert meta["monitoring"]["probe_udp"] == {**shared.udp_address(), "token": None}
    finally:
        shared.stop()
    for path in shared.session.rglob("*"):
        assert token.encode() not in path.read_bytes(), path
    private = Monitor(MonitorConfig(source="sim", hz=20, directory=str(tmp_path / "private"), probe_udp=0))
    try:
        assert private.session.stat().st_mode & 0o777 == 0o700
        meta = json.loads((private.session / "meta.json").read_text())
        assert meta["monitoring"]["probe_udp"]["token"] == private.udp_address()["token"]
    finally:
        private.release()
