"""What a newcomer meets on screen: the newest event, help and quit in the footer, values against limits."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from tests.tui.conftest import LiveApp, panel_text, run, screen_text, wait_frames, wait_until
from tui.bars import EventsPane


def _note(second: int, text: str) -> dict:
    return {"kind": "note", "ts": f"2026-01-01T10:00:{second:02d}.000000Z", "text": text}


class _EventsApp(App[None]):
    def compose(self) -> ComposeResult:
        yield EventsPane("none yet", id="events")


def test_events_pane_always_shows_the_newest_event_after_long_wrapped_notes():
    events = tuple(_note(k, f"long note {k} " + "word " * 30) for k in range(10)) + (_note(59, "the final note"),)

    async def body():
        app = _EventsApp()
        async with app.run_test(size=(48, 8)) as pilot:
            pane = app.query_one(EventsPane)
            pane.show(events)
            await pilot.pause()
            shown = "\n".join(strip.text for strip in app.screen._compositor.render_strips())
            assert "the final note" in shown
            assert shown.splitlines()[0].strip() == "events"

    run(body)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (160, 50)])
def test_footer_always_shows_help_and_quit_also_in_the_processes_view(tmp_path, size):
    async def body():
        async with LiveApp(tmp_path, gpus=4, size=size) as (pilot, app, source):
            await wait_frames(pilot, source, 2)
            await pilot.pause()
            footer = screen_text(app).splitlines()[-1]
            assert "? Help" in footer and "q Quit" in footer, footer
            await pilot.press("p")
            await pilot.pause()
            footer = screen_text(app).splitlines()[-1]
            assert "? Help" in footer and "q Quit" in footer and "s Sort" in footer, footer

    run(body)


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
def test_compact_layout_shows_gpu_memory_and_leaves_no_rows_empty(tmp_path, size):
    async def body():
        async with LiveApp(tmp_path, gpus=4, size=size) as (pilot, app, source):
            await wait_frames(pilot, source, 2)
            await pilot.pause()
            assert app.dashboard.compact
            # used/total GPU memory on the one row
            await wait_until(pilot, lambda: "/79.6G" in panel_text(app, "gpu0"), 10, "GPU memory on the row")
            devices = app.query_one("#devices").region
            assert devices.height == len(source.devices)  # the events pane takes the rest
            assert app.query_one("#events").region.height >= size[1] - 4 - len(source.devices) - 2

    run(body)
