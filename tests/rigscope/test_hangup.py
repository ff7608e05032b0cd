"""A dropped terminal (SIGHUP) or a polite kill closes the session even when the app's shutdown hangs."""

from __future__ import annotations

import json
import threading

from rigscope import dashboard_command
from rigscope.live import LiveSource
from rigscope.monitor import MonitorConfig


class StuckApp:
    """An app whose shutdown never comes (Textual once waited forever on a terminal that was gone)."""

    def __init__(self) -> None:
        self.asked_to_exit = False

    def exit(self) -> None:
        self.asked_to_exit = True


def sim_source(tmp_path) -> LiveSource:
    return LiveSource(MonitorConfig(source="sim", hz=10.0, duration_s=600.0, directory=str(tmp_path)))


def test_hang_up_closes_the_session_and_leaves_when_the_app_does_not(tmp_path, monkeypatch):
    left = threading.Event()
    codes: list[int] = []

    def fake_exit(code: int) -> None:
        codes.append(code)
        left.set()

    monkeypatch.setattr(dashboard_command.os, "_exit", fake_exit)
    source = sim_source(tmp_path)
    session = source.monitor.session
    app = StuckApp()
    dashboard_command.hang_up(app, source, grace_s=0.5)
    assert app.asked_to_exit
    assert left.wait(60), "the process did not leave"
    assert codes == [0] and source.closed
    assert json.loads((session / "meta.json").read_text())["status"] == "complete"


def test_close_from_two_threads_closes_once_and_both_hear_the_same(tmp_path):
    source = sim_source(tmp_path)
    messages: list[str] = []
    closers = [threading.Thread(target=lambda: messages.append(source.close())) for _ in range(2)]
    for closer in closers:
        closer.start()
    for closer in closers:
        closer.join(60)
    assert len(messages) == 2 and messages[0] == messages[1] and "session saved" in messages[0]
    assert source.close() == messages[0]
