"""A redraw composites what it changed itself, at its end, without waking each widget's message task; when
Textual has its own pass waiting (a layout) the widgets go Textual's way and still show, and under a dialog the
changes still reach the screen."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.tui.conftest import screen_text
from tests.tui.fed_dashboard import drawn_steady, frame
from tests.waiting import run
from tui.devices import DevicePanel


def watch(monkeypatch: Any) -> Counter[str]:
    """Calls of `check_idle` (a widget's message task woken) by widget id, and of the app's display."""
    from textual.app import App
    from textual.message_pump import MessagePump

    calls: Counter[str] = Counter()
    check_idle, display = MessagePump.check_idle, App._display

    def counting_check_idle(self: Any) -> None:
        calls[getattr(self, "id", None) or type(self).__name__] += 1
        check_idle(self)

    def counting_display(self: Any, *args: Any) -> None:
        calls["display"] += 1
        display(self, *args)

    monkeypatch.setattr(MessagePump, "check_idle", counting_check_idle)
    monkeypatch.setattr(App, "_display", counting_display)
    return calls


def util_row(screen: Any, prefix: str) -> str:
    panel = screen.query_one(f"#panel-{prefix}", DevicePanel)
    return panel.render().plain.splitlines()[1]


def test_a_redraw_composites_its_changes_before_it_returns_and_wakes_no_widget(monkeypatch):
    calls = watch(monkeypatch)

    async def body() -> None:
        async with drawn_steady() as (source, screen, pilot):
            calls.clear()
            source.feed.add(frame(199, {0: 93.0, 2: 7.0}))
            screen.redraw()  # no await: the update reaches the terminal inside the redraw
            assert calls["display"] == 1, calls
            assert not {"panel-gpu0", "panel-gpu2"} & set(calls), calls
            assert not screen._compositor._dirty_regions
            assert "93%" in util_row(screen, "gpu0") and "7%" in util_row(screen, "gpu2")
            await pilot.pause()
            assert "93%" in screen_text(pilot.app)

    run(body)


def test_with_a_layout_pending_the_changes_go_textuals_way_and_under_a_dialog_they_still_show(monkeypatch):
    calls = watch(monkeypatch)

    async def body() -> None:
        async with drawn_steady() as (source, screen, pilot):
            screen.refresh(layout=True)  # a layout of the screen waits: Textual paints after it
            calls.clear()
            source.feed.add(frame(199, {1: 61.0}))
            screen.redraw()
            assert calls["display"] == 0 and calls["panel-gpu1"] >= 1, calls
            await pilot.pause()
            assert "61%" in screen_text(pilot.app)

            await pilot.press("n")  # the note dialog: the dashboard goes on under it
            await pilot.pause()
            source.feed.add(frame(199, {1: 47.0}))
            screen.redraw()
            await pilot.pause()
            await pilot.press("escape")
            await pilot.pause()
            assert "47%" in screen_text(pilot.app)

    run(body)


def test_a_repaint_textual_had_queued_is_painted_by_the_redraw_that_comes_first(monkeypatch):
    """A bar changed outside a redraw waits in the screen's queue for Textual's update timer; a redraw landing
    meanwhile paints it too (it cleared that queue, so the change would otherwise never reach the terminal)."""
    from rich.text import Text
    from textual.app import App

    written: list[str] = []
    display = App._display

    def keeping(self: Any, screen: Any, update: Any) -> None:
        if update is not None:
            written.append(update.render_segments(self.console))
        display(self, screen, update)

    monkeypatch.setattr(App, "_display", keeping)

    async def body() -> None:
        async with drawn_steady() as (source, screen, pilot):
            header = screen.drawn.header
            header.set_text(Text("HELLO FROM AN ACTION"))  # outside a redraw: Textual's way
            screen._dirty_widgets.add(header)  # its update reached the screen; the update timer has not fired
            written.clear()
            source.feed.add(frame(199, {0: 93.0}))
            screen.redraw()
            assert len(written) == 1 and "HELLO FROM AN ACTION" in written[0]
            assert header not in screen._dirty_widgets

    run(body)
