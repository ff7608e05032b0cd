"""A viewer whose recorder ended: a note typed then is said not saved, never "saved"."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rigscope.attach_source import AttachSource
from rigscope.monitor import Monitor, MonitorConfig
from tests.tui.conftest import panel_text, type_text
from tests.waiting import run, wait_until
from tui.attach_app import AttachApp
from tui.bars import EventsPane
from tui.replay_source import SessionDirectory
from tui.screens import ConfirmScreen


def test_a_note_after_the_recorder_stopped_is_said_not_saved(tmp_path: Path) -> None:
    monitor = Monitor(MonitorConfig(source="sim", hz=10.0, duration_s=600.0, directory=str(tmp_path), attach=True))
    monitor.start()
    source = AttachSource(monitor.attach.path)
    app = AttachApp(source, sessions=SessionDirectory(tmp_path))
    seen: list[tuple[str, str]] = []
    notify = app.notify
    app.notify = lambda message, *a, **k: (seen.append((str(message), k.get("severity", "information"))),  # type: ignore[method-assign]
                                           notify(message, *a, **k))

    async def body() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: "W" in panel_text(app, "gpu0"), what="live values")
            await asyncio.to_thread(monitor.stop)
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the offer to replay")
            await pilot.press("n")  # no replay: stay on the dashboard
            await pilot.press("n")
            await type_text(pilot, "too late")
            await pilot.press("enter")
            await wait_until(pilot, lambda: any(m.startswith("note not saved") for m, _ in seen), what="the error")
            assert app.is_running
            assert ("note not saved: the recorder is gone", "error") in seen, seen
            assert not any(m.startswith("note saved") for m, _ in seen), seen  # before: both were said
            await pilot.press("q")

    try:
        run(body)
    finally:
        source.close()


def test_the_offer_to_replay_is_not_covered_by_the_toast_of_the_same_news(tmp_path: Path) -> None:
    """At 80x24 the toast saying the recorder stopped covered the dialog that says it and asks to open the replay."""
    monitor = Monitor(MonitorConfig(source="sim", hz=10.0, duration_s=600.0, directory=str(tmp_path), attach=True))
    monitor.start()
    source = AttachSource(monitor.attach.path)
    app = AttachApp(source, sessions=SessionDirectory(tmp_path))

    async def body() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: "W" in panel_text(app, "gpu0"), what="live values")
            await asyncio.to_thread(monitor.stop)
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the offer to replay")
            await pilot.pause()
            assert not app._notifications, [n.message for n in app._notifications]
            events = app.dashboard.query_one(EventsPane).render().plain
            assert "the recorder stopped" in " ".join(events.split())  # the news stays there

    try:
        run(body)
    finally:
        source.close()
