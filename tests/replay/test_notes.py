"""Notes written during a replay go into the session's events.jsonl at the replay time, marked `source: replay`."""

from __future__ import annotations

from collectors.timeutil import iso_from_us
from tests.replay.conftest import ReplayHarness, add_events, events_of, run, samples, type_text, wait_at, wait_until
from tui.replay_screen import Timeline
from tui.screens import NoteScreen


def notes(session):
    return [e for e in events_of(session) if e.get("kind") == "note"]


def test_note_is_written_at_the_replay_position_with_source_replay(session):
    ts = samples(session)["ts"].to_list()
    before = events_of(session)

    async def body():
        async with ReplayHarness(session) as (pilot, app, source):
            await pilot.press("home", "ctrl+right", "ctrl+right")
            await wait_at(pilot, source, 240)
            await pilot.press("n")
            assert isinstance(app.screen, NoteScreen)
            assert app.screen.stamp == iso_from_us(ts[240])  # the replay time, not the wall clock
            await type_text(pilot, "loss spike here")
            await pilot.press("enter")
            assert not isinstance(app.screen, NoteScreen)
            written = await wait_until(pilot, lambda: notes(session), 5, "the note in events.jsonl")
            assert written == [{"ts": iso_from_us(ts[240]), "kind": "note", "text": "loss spike here",
                                "source": "replay"}]
            assert events_of(session)[:-1] == before  # appended; nothing else touched
            shown = source.feed.snapshot(0, ()).events
            assert shown[-1]["text"] == "loss spike here"  # the events pane shows it at once

            await pilot.press("n")
            await type_text(pilot, "never saved")
            await pilot.press("escape")  # cancelled: nothing written
            assert not isinstance(app.screen, NoteScreen)
            await pilot.press("q")
        assert len(notes(session)) == 1
    run(body)


def test_a_note_written_in_replay_stays_in_the_events_pane_after_a_seek(session):
    async def body():
        async with ReplayHarness(session) as (pilot, app, source):
            await pilot.press("home", "ctrl+right")
            await wait_at(pilot, source, 120)
            await pilot.press("n")
            await type_text(pilot, "keep me")
            await pilot.press("enter")
            await wait_until(pilot, lambda: notes(session), 5, "the note in events.jsonl")
            await pilot.press("end")
            await wait_at(pilot, source, len(source.reader) - 1)
            texts = [e.get("text") for e in source.feed.snapshot(0, ()).events]
            assert "keep me" in texts
    run(body)


def test_a_note_written_in_replay_can_be_jumped_to(session):
    async def body():
        async with ReplayHarness(session) as (pilot, app, source):
            await pilot.press("home", "ctrl+right")
            await wait_at(pilot, source, 120)
            await pilot.press("n")
            await type_text(pilot, "jump here")
            await pilot.press("enter")
            await wait_until(pilot, lambda: notes(session), 5, "the note in events.jsonl")
            await pilot.press("home")
            await wait_at(pilot, source, 0)
            await pilot.press("right_curly_bracket")
            await wait_at(pilot, source, 120, timeout=1)
            app.dashboard.redraw(force=True)
            assert "n" in app.query_one(Timeline).render().plain.splitlines()[0]
    run(body)


def test_next_note_gets_past_a_note_between_two_samples(session):
    ts = samples(session)["ts"].to_list()
    add_events(session,
               {"ts": iso_from_us(ts[100] + 123_456), "kind": "note", "text": "between 100 and 101", "source": "cli"},
               {"ts": iso_from_us(ts[400] + 200_000), "kind": "note", "text": "between 400 and 401", "source": "cli"})

    async def body():
        async with ReplayHarness(session) as (pilot, app, source):
            await pilot.press("home")
            await wait_at(pilot, source, 0)
            await pilot.press("right_curly_bracket")
            await wait_at(pilot, source, 101)  # the first row at or after the note, as a tag takes effect
            await pilot.press("right_curly_bracket")
            await wait_at(pilot, source, 401, timeout=1)
            await pilot.press("left_curly_bracket")
            await wait_at(pilot, source, 101, timeout=1)
    run(body)
