"""A sender's text on screen is text: Textual markup and terminal escapes in a note, a span or a notice
neither style the screen nor break it."""

from __future__ import annotations

import json
import socket

from tests.probe.conftest import runtime  # noqa: F401 (a fixture)
from tests.tui.conftest import LiveApp, run, screen_text, wait_frames, wait_until

NOTE = "[bold]b[/]\x1b[2J\x07[/]"
SHOWN = "[bold]b[/]\\x1b[2J\\x07[/]"


def test_a_hostile_note_span_and_notice_show_as_plain_text(tmp_path, runtime):  # noqa: F811
    async def body():
        async with LiveApp(tmp_path, size=(160, 50)) as (pilot, app, source):
            await wait_frames(pilot, source, 2)
            events = [{"kind": "note", "text": NOTE},
                      {"kind": "span_start", "span_id": "s1", "name": "[red]x\x1b[31m"},
                      {"kind": "span_end", "span_id": "s1", "name": "[red]x\x1b[31m", "success": False,
                       "error": "[/]\x1b[5m"}]
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
                sender.sendto("\n".join(json.dumps(e) for e in events).encode(), source.monitor.event_stats()["socket"])
            await wait_until(pilot, lambda: SHOWN in screen_text(app), 15, "the note, escaped")
            await wait_until(pilot, lambda: "[red]x\\x1b" in screen_text(app), 15, "the span, escaped")
            source._notices.append("event receiver failed (KeyError: '[/]\x1b[2J'); restarted")
            await wait_until(pilot, lambda: [n for n in app._notifications if "restarted" in n.message], 10, "the notice")
            (notice,) = [n for n in app._notifications if "restarted" in n.message]
            assert notice.message == "event receiver failed (KeyError: '[/]\\x1b[2J'); restarted" and not notice.markup
            await pilot.pause(0.3)  # drawn: a markup error would have ended the app
            assert "\x1b" not in screen_text(app) and app.is_running

    run(body)
