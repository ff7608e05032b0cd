"""`record` and `run` say where to attach and keep it in meta.json; `run`'s recorder is attachable while its
command runs; a finished recorder leaves no socket behind."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tests.conftest import run_cli

PROBE = ("import os; from rigscope.attach_client import AttachClient, find_attach_point; "
         "name, path = find_attach_point(os.environ['RIGSCOPE_SESSION']); "
         "print('attached to', AttachClient(path).hello['session'])")


def meta_of(root: Path) -> dict:
    return json.loads(next(root.glob("*/meta.json")).read_text())


def test_record_prints_and_keeps_the_attach_socket(tmp_path: Path) -> None:
    result = run_cli("record", "--source", "sim", "--duration", "1s", "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    path = meta_of(tmp_path)["monitoring"]["attach_socket"]
    assert path.endswith(".attach") and os.path.dirname(path) == os.path.join(os.environ["XDG_RUNTIME_DIR"], "rigscope")
    assert f"rigscope attach {meta_of(tmp_path)['session_id']} (socket {path})" in result.stderr
    assert not os.path.exists(path)  # gone with its recorder


def test_run_is_attachable_while_its_command_runs(tmp_path: Path) -> None:
    result = run_cli("run", "--source", "sim", "--baseline", "0", "--cooldown", "0", "--dir", str(tmp_path),
                     "--", sys.executable, "-c", PROBE)
    assert result.returncode == 0, result.stderr
    session = meta_of(tmp_path)["session_id"]
    assert f"attached to {session}" in (tmp_path / session / "output.log").read_text()


def test_the_status_line_counts_viewers_and_says_a_stuck_one_was_dropped(tmp_path: Path) -> None:
    import socket

    from rigscope.monitor import Monitor, MonitorConfig
    from rigscope.record_command import status_line
    from tests.waiting import wait_sync

    said: list[str] = []
    monitor = Monitor(MonitorConfig(source="sim", hz=10.0, duration_s=60.0, directory=str(tmp_path), attach=True),
                      on_notice=said.append)
    monitor.start()
    try:
        stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stuck.connect(monitor.attach.path)
        stuck.sendall(b'{"t": "attach"}\n')
        wait_sync(lambda: "| viewers 1" in status_line(monitor), 10, "the viewer counted")
        monitor.attach.max_pending = 1  # as if it had not read for minutes
        wait_sync(lambda: "viewers 0 (dropped 1, stuck)" in status_line(monitor), 10, "the drop in the status line")
        assert any("dropped" in line and "stopped reading" in line for line in said)
        stuck.close()
    finally:
        monitor.request_stop()
        monitor.stop()
