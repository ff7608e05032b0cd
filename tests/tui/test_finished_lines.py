"""A line widget finishes its own lines (padding, background, the app's filters) only where Textual would do no more:
what it hands the compositor is Textual's lines, segment for segment, whatever the theme, focus or border."""

from __future__ import annotations

from typing import Any

from textual.geometry import Region
from textual.widget import Widget

from tests.tui.fed_dashboard import drawn_steady, frame
from tests.waiting import run
from tui.devices import DevicePanel
from tui.finished_lines import plainly_styled
from tui.strips import StripText


def segments(strips: list[Any]) -> list[list[tuple[str, Any]]]:
    return [[(segment.text, segment.style) for segment in strip] for strip in strips]


def crops(widget: Widget) -> list[Region]:
    """The whole widget, one row, a band of rows, and rows cut on both sides."""
    width, height = widget.size
    return [Region(0, 0, width, height), Region(0, height - 1, width, 1), Region(0, height // 3, width, height // 2),
            Region(2, 0, max(0, width - 5), height)]


def assert_as_textual(screen: Any) -> int:
    """Every line widget's lines equal Textual's own rendering of them; how many widgets were checked."""
    checked = 0
    for widget in screen.query(StripText):
        if not widget.size.area:
            continue
        for crop in crops(widget):
            ours = widget.render_lines(crop)
            textuals = Widget.render_lines(widget, crop)
            assert segments(ours) == segments(textuals), (widget, crop)
        checked += 1
    return checked


def test_line_widgets_render_as_textual_does_through_changes_theme_focus_and_a_border():
    async def body() -> None:
        async with drawn_steady() as (source, screen, pilot):
            assert assert_as_textual(screen) >= 8  # five panels, three bars, the events pane

            source.feed.add(frame(199, {0: 95.0, 3: 5.0}))  # lines change: the changed ones are finished again
            screen.redraw()
            await pilot.pause()
            assert_as_textual(screen)

            panel = screen.query(DevicePanel).first()
            panel.focus()  # another background
            await pilot.pause()
            assert_as_textual(screen)

            panel.add_class("collapse")  # a border: Textual's own way
            await pilot.pause()
            assert not plainly_styled(panel)
            assert_as_textual(screen)

            pilot.app.theme = "textual-light"  # every background and colour changes
            await pilot.pause()
            screen.redraw(force=True)
            await pilot.pause()
            assert_as_textual(screen)

    run(body)
