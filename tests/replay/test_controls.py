"""Every key of the replay dashboard: after each one the position and the speed are what they should be.

The session is 8 minutes at 2 Hz (row i is at elapsed i / 2 s), two GPUs.  The player is paused
first (space) so time never moves the position; each seek is waited for (bounded polling).
"""

from __future__ import annotations

import polars as pl

from collectors.timeutil import iso_from_us, us_from_iso
from recordings.replay_player import SPEEDS
from tests.replay.conftest import (
    HZ,
    ReplayHarness,
    add_events,
    events_of,
    notifications,
    run,
    samples,
    type_text,
    wait_at,
    wait_until,
)
from tui.replay_screen import Timeline
from tui.screens import DeviceScreen, GotoScreen, HelpScreen

ROWS = 960  # 8 min at 2 Hz
LAST = ROWS - 1


def header(app) -> str:
    return app.query_one("#header").render().plain


def test_space_toggles_play_and_plus_minus_walk_every_speed_and_clamp(session):
    async def body():
        async with ReplayHarness(session) as (pilot, app, source):
            assert not source.playing and "❚❚" in header(app)
            await pilot.press("space")
            assert source.playing
            await wait_until(pilot, lambda: "▶" in header(app), 5, "the play mark in the header")
            await pilot.press("space")
            assert not source.playing
            await wait_until(pilot, lambda: "❚❚" in header(app), 5, "the pause mark in the header")

            assert source.speed == 1.0
            await pilot.press("minus")
            assert source.speed == 0.5
            await pilot.press("minus")
            assert source.speed == 0.25
            await pilot.press("minus")  # the slowest: stays
            assert source.speed == 0.25
            walked = [source.speed]
            for _ in range(len(SPEEDS) - 1):
                await pilot.press("plus")
                walked.append(source.speed)
            assert walked == [0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1000.0, None]
            await pilot.press("plus")  # max: stays
            assert source.speed is None
            await wait_until(pilot, lambda: " max " in header(app), 5, "max in the header")
            assert notifications(app)[-1] == ("speed max", "information")
            await pilot.press("minus")
            assert source.speed == 1000.0
            await pilot.press("equals_sign")  # `=` is `+` without shift
            assert source.speed is None
            await pilot.press("minus", "minus")
            assert source.speed == 300.0
            await wait_until(pilot, lambda: "x300" in header(app), 5, "x300 in the header")
            assert not source.playing  # speed keys never start playback
    run(body)


def test_steps_seconds_minutes_home_and_end(session):
    async def body():
        async with ReplayHarness(session) as (pilot, app, source):
            assert len(source.reader) == ROWS and source.reader.elapsed[1] == 1 / HZ
            await pilot.press("home")
            await wait_at(pilot, source, 0)
            for key, expected in (
                ("right", 1), ("right", 2), ("left", 1), ("left", 0),
                ("left", 0),  # the first row: stays
                ("shift+right", 20), ("shift+right", 40), ("shift+left", 20),
                ("ctrl+right", 140), ("ctrl+right", 260), ("ctrl+left", 140),
                ("shift+left", 120), ("ctrl+left", 0),
                ("shift+left", 0),  # before the start: the first row
                ("end", LAST),
                ("right", LAST), ("shift+right", LAST), ("ctrl+right", LAST),  # past the end: the last row
                ("left", LAST - 1), ("ctrl+left", LAST - 1 - 120),
                ("home", 0),
            ):
                await pilot.press(key)
                await wait_at(pilot, source, expected)
                assert not source.playing, key
                assert source.speed == 1.0
            await wait_until(pilot, lambda: "0:00:00 / 0:07:59" in header(app), 5, "the clock in the header")
            await pilot.press("end")
            await wait_at(pilot, source, LAST)
            await wait_until(pilot, lambda: "0:07:59 / 0:07:59" in header(app), 5, "the end in the header")

            await pilot.press("home")
            await wait_at(pilot, source, 0)
            await pilot.press("space")  # playing: a step pauses
            assert source.playing
            await pilot.press("right")
            assert not source.playing
            await wait_until(pilot, lambda: source.position >= 1 and source.position == source._target(), 5)
    run(body)


def test_goto_offsets_clock_seconds_and_bad_input(session):
    df = samples(session)
    ts = df["ts"].to_list()

    async def goto(pilot, app, text):
        await pilot.press("g")
        assert isinstance(app.screen, GotoScreen)
        assert app.screen.focused is app.screen.query_one("#goto-text")
        await type_text(pilot, text)
        assert app.screen.query_one("#goto-text").value == text
        await pilot.press("enter")
        assert not isinstance(app.screen, GotoScreen)

    async def body():
        async with ReplayHarness(session) as (pilot, app, source):
            await pilot.press("home")
            await wait_at(pilot, source, 0)
            await goto(pilot, app, "+2m")
            await wait_at(pilot, source, 240)
            await goto(pilot, app, "-30s")
            await wait_at(pilot, source, 180)
            await goto(pilot, app, "+15m")  # past the end: the last row, and it says so
            await wait_at(pilot, source, LAST)
            assert any("past the end" in m for m, _ in notifications(app))
            await goto(pilot, app, "-1h")  # before the start: the first row
            await wait_at(pilot, source, 0)
            await goto(pilot, app, "90")  # seconds from the start
            await wait_at(pilot, source, 180)

            # HH:MM:SS (UTC, the position's day): the last row at or before that second
            clock = iso_from_us(ts[700])[11:19]
            target = us_from_iso(f"{iso_from_us(ts[700])[:10]}T{clock}Z")
            expected = df.filter(pl.col("ts") <= target).height - 1
            assert 700 - HZ <= expected <= 700
            await goto(pilot, app, clock)
            await wait_at(pilot, source, expected)
            await goto(pilot, app, clock[:5])  # HH:MM
            minute = us_from_iso(f"{iso_from_us(ts[700])[:10]}T{clock[:5]}:00Z")
            await wait_at(pilot, source, max(0, df.filter(pl.col("ts") <= minute).height - 1))

            await pilot.press("end")
            await wait_at(pilot, source, LAST)
            before = len(notifications(app))
            for bad in ("soon", "25:61", "+x"):
                await goto(pilot, app, bad)
                await pilot.pause(0.1)
                assert source.position == LAST, bad
                errors = [m for m, severity in notifications(app)[before:] if severity == "error"]
                assert errors, f"no error notification for {bad!r}"
                assert "HH:MM:SS" in errors[-1] and "+5m" in errors[-1], errors  # what would have been right
                before = len(notifications(app))
            await pilot.press("g")
            await type_text(pilot, "+1m")
            await pilot.press("escape")  # cancelled: nothing moves
            assert not isinstance(app.screen, GotoScreen)
            await pilot.pause(0.2)
            assert source.position == LAST
    run(body)


def test_collapse_jumps_go_to_each_collapse_start_and_stop_at_the_ends(session):
    df = samples(session)
    starts = [e for e in events_of(session) if e["kind"] == "collapse_start"]
    assert [e["device"] for e in starts] == ["gpu0", "gpu1"]  # the scenario: one collapse per GPU
    rows = [df.filter(pl.col("elapsed_s") < e["start"]).height for e in starts]  # at the onset, not the detection
    assert rows[0] < rows[1]

    async def body():
        async with ReplayHarness(session) as (pilot, app, source):
            await pilot.press("home")
            await wait_at(pilot, source, 0)
            await pilot.press("right_square_bracket")
            await wait_at(pilot, source, rows[0])
            assert source.reader.elapsed[rows[0] - 1] < starts[0]["start"] <= source.reader.elapsed[rows[0]]
            assert df["gpu0_collapse"][rows[0]] == 0 and 1 in df["gpu0_collapse"][rows[0]:rows[0] + 40]  # found later
            await pilot.press("right_square_bracket")
            await wait_at(pilot, source, rows[1])
            assert 1 in df["gpu1_collapse"][rows[1]:rows[1] + 40]
            count = len(notifications(app))
            await pilot.press("right_square_bracket")  # no more: a notification, no move
            await pilot.pause(0.2)
            assert source.position == rows[1]
            assert ("no more collapses that way", "information") in notifications(app)[count:]
            await pilot.press("left_square_bracket")
            await wait_at(pilot, source, rows[0])
            count = len(notifications(app))
            await pilot.press("left_square_bracket")
            await pilot.pause(0.2)
            assert source.position == rows[0]
            assert ("no more collapses that way", "information") in notifications(app)[count:]
            await pilot.press("end")
            await wait_at(pilot, source, LAST)
            await pilot.press("left_square_bracket")  # from the end: the last collapse
            await wait_at(pilot, source, rows[1])
    run(body)


def test_note_jumps_visit_notes_and_tags_in_order(session):
    df = samples(session)
    ts = df["ts"].to_list()
    add_events(session,
               {"ts": iso_from_us(ts[100]), "kind": "note", "text": "first", "source": "cli"},
               {"ts": iso_from_us(ts[300]), "kind": "alert", "device": "gpu0", "alert": "TEMP_LIMIT"},
               {"ts": iso_from_us(ts[500]), "kind": "tag", "state": "eval", "source": "cli"},
               {"ts": iso_from_us(ts[800]), "kind": "note", "text": "last", "source": "cli"})

    async def body():
        async with ReplayHarness(session) as (pilot, app, source):
            await pilot.press("home")
            await wait_at(pilot, source, 0)
            for key, expected in (("right_curly_bracket", 100), ("right_curly_bracket", 500),
                                  ("right_curly_bracket", 800), ("left_curly_bracket", 500),
                                  ("left_curly_bracket", 100)):
                await pilot.press(key)
                await wait_at(pilot, source, expected)
            count = len(notifications(app))
            await pilot.press("left_curly_bracket")
            await pilot.pause(0.2)
            assert source.position == 100
            assert ("no more notes or tags that way", "information") in notifications(app)[count:]
            await pilot.press("end")
            await wait_at(pilot, source, LAST)
            count = len(notifications(app))
            await pilot.press("right_curly_bracket")
            await pilot.pause(0.2)
            assert source.position == LAST
            assert ("no more notes or tags that way", "information") in notifications(app)[count:]
            # the timeline marks them: n for notes, T for the tag, C for the collapses
            marks = app.query_one(Timeline).render().plain.splitlines()[0]
            assert marks.count("n") == 2 and marks.count("T") == 1 and "C" in marks
    run(body)


def test_timeline_click_seeks_to_that_fraction(session):
    async def body():
        async with ReplayHarness(session) as (pilot, app, source):
            reader = source.reader
            timeline = app.query_one(Timeline)
            width = timeline.size.width
            assert width > 20
            for x in (width // 4, width // 2, 0, width - 1):
                await pilot.click(Timeline, offset=(x, 0))
                expected = reader.index_at(reader.elapsed[0] + x / width * reader.duration_s)
                await wait_at(pilot, source, expected)
                await wait_until(pilot, lambda: timeline.render().plain.splitlines()[0].find("▲") ==
                                 min(width - 1, int((reader.elapsed[expected] - reader.elapsed[0])
                                                    / reader.duration_s * width)), 5, "the position mark")
    run(body)


def test_details_help_and_quit(session):
    async def body():
        harness = ReplayHarness(session)
        async with harness as (pilot, app, source):
            await pilot.press("home", "ctrl+right")
            await wait_at(pilot, source, 120)
            await pilot.press("d")
            assert isinstance(app.screen, DeviceScreen)
            assert app.screen.frame["elapsed_s"] == 60.0  # the frame at the position
            await pilot.press("escape")
            assert not isinstance(app.screen, DeviceScreen)
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            described = [description for _, description in app.screen.keys]
            for wanted in ("Play/Pause", "Faster", "Go to", "Next collapse", "Note", "Quit"):
                assert wanted in described
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)
            await pilot.press("q")
            await pilot.pause(0.1)
            assert app.return_value == f"rigscope: replayed {session}"
            assert not source._thread.is_alive()
    run(body)


def test_help_lists_the_replay_keys_only(session):
    """The help of the replay lists its own keys: `-` slows down; the live presets (1-9) do not exist here."""
    async def body():
        async with ReplayHarness(session) as (pilot, app, source):
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            described = [description for _, description in app.screen.keys]
            assert "Slower" in described
            assert not any("preset" in description for description in described)
            assert not any(description.startswith("Kill") for description in described)  # a replay ends nothing
    run(body)


def test_a_redraw_writes_the_replay_header_and_never_the_live_dashboards(session, monkeypatch):
    """The replay's header and timeline are painted with the panels: the live header the dashboard lays out
    under them never reaches the terminal (it flickered there for a frame at every redraw)."""
    from textual.app import App

    written: list[str] = []
    display = App._display

    def keeping(self, screen, update) -> None:
        if update is not None:
            written.append(update.render_segments(self.console))
        display(self, screen, update)

    monkeypatch.setattr(App, "_display", keeping)

    async def body():
        async with ReplayHarness(session) as (pilot, app, source):
            await pilot.press("space")  # playing: the position, its clock and the panels move
            written.clear()
            for _ in range(3):
                await pilot.pause(0.3)
                app.screen.redraw()
            await pilot.pause()
            assert written and "REPLAY" in "".join(written)
            assert not any("not recording" in update or "REC " in update for update in written), written

    run(body)
