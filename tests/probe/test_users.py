"""Two users on one box: another user's events, notes and tags never reach your session, and each
user's recorder gets only that user's workloads.

The second user is `nobody` (uid 65534), reached with setpriv. Its processes keep one capability,
reading and searching any directory (CAP_DAC_READ_SEARCH), only because this interpreter lives
under a private home; it grants no write, and connecting to a socket needs write.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from recordings.events import read_events
from rigscope.monitor import Monitor, MonitorConfig
from tests.conftest import REPO
from tests.waiting import wait_sync

OTHER = 65534
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="acting as a second user needs root and setpriv (CI runs as root)")

HOSTILE = [
    {"kind": "note", "text": "from another user"},
    {"kind": "tag", "state": "hijacked"},
    {"kind": "span_start", "span_id": "x-1", "name": "synthesis"},
    {"kind": "span_end", "span_id": "x-1", "name": "synthesis", "success": False, "error": "injected"},
    {"kind": "metric", "name": "loss", "value": 1e308},
]
SENDER = """
import json, socket, sys
events = json.loads(sys.argv[2])
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
outcomes = []
for event in events:
    try:
        sock.sendto(json.dumps(event).encode(), sys.argv[1])
        outcomes.append("sent")
    except PermissionError:
        outcomes.append("refused")
import rigscope
from rigscope import probe
rigscope.note("probe of another user")
with rigscope.span("synthesis"):
    pass
probe.flush(1.0)
print(json.dumps({"outcomes": outcomes, "probe": probe.stats()}))
"""
WORKLOAD = """
import sys, rigscope
from rigscope import probe
for i in range(10):
    with rigscope.span(sys.argv[1], request_id=str(i)):
        pass
rigscope.note(sys.argv[1] + " done")
probe.flush(2.0)
assert probe.stats()["dropped"] == 0, probe.stats()
"""


def as_other(args: list[str], env: dict[str, str], **options) -> subprocess.Popen:
    command = ["setpriv", f"--reuid={OTHER}", f"--regid={OTHER}", "--clear-groups",
               "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", *args]
    return subprocess.Popen(command, cwd=REPO, env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **options)


@pytest.fixture
def other_dirs() -> Iterator[tuple[Path, Path]]:
    """The other user's runtime directory and sessions directory."""
    base = Path(tempfile.mkdtemp(prefix="rs-other-"))
    base.chmod(0o755)
    run, sessions = base / "run", base / "sessions"
    for path in (run, sessions):
        path.mkdir(mode=0o700)
        os.chown(path, OTHER, OTHER)
    yield run, sessions
    shutil.rmtree(base, ignore_errors=True)



def finished(process: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def session_events(monitor: Monitor) -> list[dict]:
    return read_events(monitor.session / "events.jsonl")


def test_another_user_cannot_reach_your_recorder(monitor, other_dirs, runtime, tmp_path):
    run_dir, _ = other_dirs
    # Pointed at your runtime directory on purpose: it is refused, since it is not the other user's.
    code, out, err = finished(as_other([sys.executable, "-c", SENDER, monitor.event_stats()["socket"], json.dumps(HOSTILE)],
                                       {"XDG_RUNTIME_DIR": str(runtime)}))
    assert code == 0, err
    result = json.loads(out)
    assert result["outcomes"] == ["refused"] * len(HOSTILE)
    assert result["probe"]["dropped"] == 3 and result["probe"]["sent"] == 0 and result["probe"]["recorder"] is None
    for args in (["note", "--dir", str(tmp_path), "hello from nobody"], ["tag", "hijacked"],
                 ["note", "--session", monitor.session.name, "x"]):
        code, out, err = finished(as_other([sys.executable, "-m", "rigscope", *args], {"XDG_RUNTIME_DIR": str(run_dir)}))
        assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, (args, err)
    monitor.stop()
    events = session_events(monitor)
    assert not [e for e in events if e["kind"] in ("note", "span_start", "span_end", "metric")]
    assert [e for e in events if e["kind"] == "tag"] == []
    assert json.loads((monitor.session / "meta.json").read_text())["summary"]["spans"]["total"] == 0


def test_events_from_another_uid_are_refused_and_counted_even_through_an_open_socket(monitor, other_dirs, runtime):
    run_dir, _ = other_dirs
    (runtime / "rigscope").chmod(0o711)  # as a careless admin might: the uid check still holds
    os.chmod(monitor.event_stats()["socket"], 0o666)
    code, out, err = finished(as_other([sys.executable, "-c", SENDER, monitor.event_stats()["socket"], json.dumps(HOSTILE)],
                                       {"XDG_RUNTIME_DIR": str(run_dir)}))
    assert code == 0, err
    assert json.loads(out)["outcomes"] == ["sent"] * len(HOSTILE)
    receiver = monitor.receiver
    wait_sync(lambda: receiver.refused_uid == len(HOSTILE), 10, "the refusals")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as mine:
        mine.sendto(b'{"kind": "note", "text": "mine"}', receiver.path)
    wait_sync(lambda: receiver.received == 1, 10, "this user's note")
    monitor.stop()
    events = session_events(monitor)
    assert [e.get("text") for e in events if e["kind"] in ("note", "tag", "span_end", "metric")] == ["mine"]
    meta = json.loads((monitor.session / "meta.json").read_text())
    assert meta["summary"]["event_receiver"]["refused_uid"] == len(HOSTILE)
    assert meta["summary"]["spans"]["total"] == 0


def test_two_users_recorders_and_workloads_at_once_each_get_only_their_own(monitor, other_dirs, runtime):
    run_dir, sessions = other_dirs
    other_env = {"XDG_RUNTIME_DIR": str(run_dir)}
    recorder = as_other([sys.executable, "-m", "rigscope", "record", "--source", "sim", "--hz", "10",
                         "--dir", str(sessions)], other_env)
    try:
        wait_sync(lambda: list((run_dir / "rigscope").glob("*.sock")) if (run_dir / "rigscope").is_dir() else None,
                  30, "the other user's recorder")
        theirs = as_other([sys.executable, "-c", WORKLOAD, "their-span"], other_env)
        mine = subprocess.run([sys.executable, "-c", WORKLOAD, "my-span"], cwd=REPO, capture_output=True, text=True,
                              timeout=60)
        assert mine.returncode == 0, mine.stderr
        code, _, err = finished(theirs)
        assert code == 0, err
        (their_session,) = sessions.iterdir()
        wait_sync(lambda: sum(e["kind"] == "span_end" for e in read_events(their_session / "events.jsonl")) == 10,
                  15, "their spans in their session")
        wait_sync(lambda: monitor.span_statistics.summary()["total"] == 10, 15, "my spans in my session")
    finally:
        recorder.send_signal(signal.SIGINT)
        code, _, err = finished(recorder)
    assert code == 0, err
    monitor.stop()
    names = {e.get("name") or e.get("text") for e in session_events(monitor) if e["kind"] != "tag"}
    assert names == {"my-span", "my-span done"}
    their_names = {e.get("name") or e.get("text") for e in read_events(their_session / "events.jsonl")
                   if e["kind"] != "tag"}
    assert their_names == {"their-span", "their-span done"}
    info = their_session.stat()
    assert info.st_uid == OTHER and info.st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o077 == 0 for p in their_session.rglob("*"))


def test_a_runtime_folder_of_another_user_is_refused(tmp_path, runtime):
    from recordings.errors import InputError

    folder = runtime / "rigscope"
    folder.mkdir(mode=0o700)
    os.chown(folder, OTHER, OTHER)  # made first by the other user, to read what we send
    with pytest.raises(InputError, match=f"owned by uid {OTHER}, not this user: refused"):
        Monitor(MonitorConfig(source="sim", hz=20, directory=str(tmp_path)))
    assert list(folder.iterdir()) == [] and list(tmp_path.iterdir()) == []


def test_a_container_style_sender_of_another_uid_needs_the_token(tmp_path, other_dirs, runtime):
    run_dir, _ = other_dirs
    monitor = Monitor(MonitorConfig(source="sim", speed=1.0, hz=20, directory=str(tmp_path), probe_udp=0))
    monitor.start()
    try:
        udp = monitor.udp_address()
        code = "import rigscope\nfrom rigscope import probe\nrigscope.note('over udp')\nprobe.flush(2.0)\n"
        for token in ("", udp["token"]):
            done, _, err = finished(as_other([sys.executable, "-c", code], {
                "XDG_RUNTIME_DIR": str(run_dir), "RIGSCOPE_PROBE_UDP": str(udp["port"]), "RIGSCOPE_TOKEN": token}))
            assert done == 0, err
        wait_sync(lambda: monitor.event_stats()["received"] == 1 and monitor.event_stats()["refused_token"] == 1, 10,
                  "one with the token taken, one without refused")
    finally:
        monitor.stop()
    assert [e["text"] for e in session_events(monitor) if e["kind"] == "note"] == ["over udp"]


def test_a_temp_folder_made_first_by_another_user_moves_the_sockets_home(tmp_path, monkeypatch):
    """Without XDG_RUNTIME_DIR the sockets' place in the shared temp dir can be taken by anyone: the
    recorder then uses the home directory, and senders find it there; nothing goes to the other's folder."""
    import tempfile

    from rigscope import probe
    from rigscope.local_channel import channel_dir

    short = Path(tempfile.mkdtemp(prefix="rs-"))  # a socket's path has at most 107 bytes
    shared_tmp, home = short / "tmp", short / "home"
    shared_tmp.mkdir(mode=0o1777)
    home.mkdir()
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(shared_tmp))
    monkeypatch.setenv("HOME", str(home))
    squatted = shared_tmp / f"rigscope-{os.getuid()}"
    squatted.mkdir(mode=0o777)
    os.chown(squatted, OTHER, OTHER)
    probe.reset()
    running = Monitor(MonitorConfig(source="sim", speed=1.0, hz=20, directory=str(tmp_path / "sessions")))
    running.start()
    try:
        assert channel_dir() == str(home / ".cache" / "rigscope" / "run")
        probe.note("found at home")
        wait_sync(lambda: any(e.get("text") == "found at home" for e in read_events(running.session / "events.jsonl")),
                  10, "the note")
    finally:
        running.stop()
        probe.reset()
    assert list(squatted.iterdir()) == []
    shutil.rmtree(short)
