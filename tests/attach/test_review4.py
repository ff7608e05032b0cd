"""Review 4 of attach and serve: what a check whether a recorder is alive costs it, viewers of another user,
viewers that go away mid-message, `rigscope serve` after its recorder ended."""

from __future__ import annotations

import socket
from pathlib import Path

from rigscope.attach_client import AttachClient
from rigscope.local_channel import alive, live_attach_points
from rigscope.monitor import Monitor, MonitorConfig
from rigscope.record_command import status_line
from rigscope.serve import attach as attach_module
from tests.waiting import wait_sync


def recorder(tmp_path: Path) -> Monitor:
    monitor = Monitor(MonitorConfig(source="sim", hz=10.0, duration_s=600.0, directory=str(tmp_path), attach=True))
    monitor.start()
    return monitor


def test_a_liveness_check_is_no_viewer_and_is_sent_nothing(tmp_path: Path, monkeypatch) -> None:
    """`rigscope attach`, `serve` and the dashboard's offer check which recorders are alive by connecting:
    each check was counted as a viewer (the status line said `viewers 0` ever after) and sent the session
    and the recent batches, each encoded for it alone."""
    monitor = recorder(tmp_path)
    publisher = monitor.attach
    encoded: list[int] = []
    real = attach_module.protocol.encode_batch
    monkeypatch.setattr(attach_module.protocol, "encode_batch", lambda *a: encoded.append(1) or real(*a))
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        wait_sync(lambda: len(publisher._recent) >= 5, what="recent batches in the ring")
        for _ in range(5):
            assert alive(publisher.path, socket.SOCK_STREAM)
        session = publisher._session.hello()["session"]
        assert [name for name, _ in live_attach_points()] == [session]
        silent.connect(publisher.path)  # connected, and never asks to attach
        assert "viewers" not in status_line(monitor)
        viewer = AttachClient(publisher.path)  # a viewer that asks is one, as before (accepted after the others)
        assert viewer.hello["session"] == session
        wait_sync(lambda: "| viewers 1" in status_line(monitor), what="the viewer counted")
        assert publisher.stats()["attached"] == 1  # the checks and the silent one are no viewers
        assert len(encoded) <= len(publisher._recent) + 20  # the recent batches for the viewer alone
        silent.setblocking(False)
        try:
            assert silent.recv(100) == b"", "the silent connection was sent something"
        except BlockingIOError:
            pass  # nothing sent to it: right
        viewer.close()
    finally:
        silent.close()
        monitor.request_stop()
        monitor.stop()
