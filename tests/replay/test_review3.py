"""Odd but valid sessions in replay, and odd times asked of it."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from textual.widgets import DataTable

from collectors.timeutil import iso_from_us
from recordings.replay import ReplayReader
from rigscope.cli import main
from rigscope.replay_command import replay_app
from tests.replay.conftest import ReplayHarness, notifications, run, settled_at, type_text, wait_sync
from tests.replay.test_growing import FIRST, land_second_part, recording_session
from tui.picker import COLUMNS, PickerApp
from tui.replay_source import ReplaySource, SessionDirectory


def rewritten(recorded: Path, target: Path, frame: pl.DataFrame, events: list[dict] | None = None) -> Path:
    """A copy of `recorded` whose samples are `frame` (and whose events, when given, are `events`)."""
    shutil.copytree(recorded, target)
    frame.write_parquet(target / "samples.parquet")
    if events is not None:
        (target / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return target


def test_goto_a_clock_time_past_the_end_says_so(recorded):
    reader = ReplayReader(recorded)
    last = len(reader) - 1
    after = iso_from_us(reader.ts_us[-1] + 60_000_000)[11:19]  # a minute after the last sample
    assert reader.goto(after, 0) == (last, True)
    assert reader.goto(iso_from_us(reader.ts_us[-1])[11:19], 0)[1] is False  # the last second itself is inside


def test_at_a_clock_time_past_the_end_warns(recorded, tmp_path, capsys):
    reader = ReplayReader(recorded)
    after = iso_from_us(reader.ts_us[-1] + 60_000_000)[11:19]
    args = argparse.Namespace(speed=1.0, at=after, fps=2.0, ascii=False)
    _, source = replay_app(recorded, tmp_path, args)
    source.close()
    assert f"--at {after} is past the end" in capsys.readouterr().err


def stepped_back(recorded: Path, tmp_path: Path) -> tuple[Path, pl.DataFrame]:
    """The wall clock stepped back 60 s at row 400 (an NTP correction; `elapsed_s` goes on): a note recorded
    at row 380's time, a time the clock shows again at row 500."""
    df = pl.read_parquet(recorded / "samples.parquet")
    row = pl.int_range(pl.len())
    frame = df.with_columns(pl.when(row >= 400).then(pl.col("ts") - pl.duration(seconds=60)).otherwise(pl.col("ts")))
    note = {"ts": iso_from_us(int(df["ts"].dt.epoch("us")[380])), "kind": "note", "text": "once", "source": "cli"}
    return rewritten(recorded, tmp_path / "stepped", frame, [note]), frame


def test_a_wall_clock_stepped_back_shows_each_event_once_and_jumps_to_where_it_was_recorded(recorded, tmp_path):
    session, _ = stepped_back(recorded, tmp_path)
    source = ReplaySource(session, speed=300.0)  # plays through the step (8 minutes at x300: under 2 s)
    try:
        wait_sync(lambda: not source.playing, 20, "the end of the session")
        wait_sync(lambda: settled_at(source, len(source.reader) - 1), 5, "the last row shown")
        assert [e.get("text") for e in source.feed.snapshot(0, ()).events] == ["once"]
        source.seek_index(0)
        wait_sync(lambda: settled_at(source, 0), 5, "the first row")
        assert source.jump(("note",), True)
        wait_sync(lambda: settled_at(source, 380), 5, "the note's row")
        assert not source.jump(("note",), True)  # and no second copy further on
    finally:
        source.close()


def test_rows_in_reverse_order_give_an_axis_that_never_goes_back(recorded, tmp_path):
    """A foreign file with its rows backwards: the header never shows a negative length, seeks stay in range."""
    df = pl.read_parquet(recorded / "samples.parquet")
    reader = ReplayReader(rewritten(recorded, tmp_path / "reversed", df.reverse()))
    assert reader.duration_s >= 0
    assert list(reader.elapsed) == sorted(reader.elapsed) and list(reader.ts_us) == sorted(reader.ts_us)
    assert reader.goto("+1m", 0) == (len(reader) - 1, True)


def test_events_after_the_last_sample_show_at_the_last_row(recorded, tmp_path):
    """A crash keeps the notes flushed after the last flushed sample: at the end, the events pane shows them."""
    df = pl.read_parquet(recorded / "samples.parquet")
    last_us = int(df["ts"].dt.epoch("us")[-1])
    late = {"ts": iso_from_us(last_us + 5_000_000), "kind": "note", "text": "after the last sample", "source": "cli"}
    session = rewritten(recorded, tmp_path / "late", df, [late])
    source = ReplaySource(session)
    try:
        source.toggle_play()
        wait_sync(lambda: settled_at(source, 0), 5, "the first row")
        assert source.jump(("note",), True)  # the jump goes to the last row ...
        last = len(source.reader) - 1
        wait_sync(lambda: settled_at(source, last), 5, "the last row")
        assert [e.get("text") for e in source.feed.snapshot(0, ()).events] == [late["text"]]  # ... and shows it
    finally:
        source.close()


def test_a_session_still_recording_takes_in_the_events_written_since_it_opened(recorded, tmp_path):
    """A note sent to the running recorder after the replay opened: on the timeline, and shown when reached."""
    session = recording_session(recorded, tmp_path)
    source = ReplaySource(session, poll_s=0.05)
    try:
        source.toggle_play()
        before = len(source.reader.events)
        note = {"ts": iso_from_us(source.reader.ts_us[FIRST - 10]), "kind": "note", "text": "sent later", "source": "cli"}
        line = json.dumps(note) + "\n"
        with open(session / "events.jsonl", "a", encoding="utf-8") as handle:
            handle.write(line[:20])  # the recorder's write, cut where a reader may find it
        land_second_part(recorded, session)
        wait_sync(lambda: len(source.reader) > FIRST, 5, "the second part")
        assert len(source.reader.events) == before and not source.notices()  # a cut line waits, unread
        with open(session / "events.jsonl", "a", encoding="utf-8") as handle:
            handle.write(line[20:])
        wait_sync(lambda: len(source.reader.events) == before + 1, 5, "the note written since")
        assert note in source.reader.events
        source.seek_index(FIRST)
        wait_sync(lambda: settled_at(source, FIRST), 5, "a row after the note")
        assert note in source.feed.snapshot(0, ()).events
    finally:
        source.close()


def test_on_an_80_column_terminal_the_picker_shows_each_sessions_status(recorded, tmp_path):
    """Which session is still recording, interrupted or cannot open: on screen without scrolling sideways."""
    root = tmp_path / "sessions"
    df = pl.read_parquet(recorded / "samples.parquet")
    rewritten(recorded, root / "20261201-100000-gpu-node-0042", df)
    rewritten(recorded, root / "20261202-100000-gpu-node-0042", df.head(0))  # cannot open: no samples
    app = PickerApp(SessionDirectory(root).list())

    async def body():
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            table = app.query_one(DataTable)
            assert [str(table.get_row_at(i)[COLUMNS.index("status")]) for i in range(2)] == ["corrupt", "complete"]
            assert str(table.get_row_at(0)[COLUMNS.index("why")]) == "the session has no samples"
            shown = table.scrollable_content_region.width
            widths = [column.get_render_width(table) for column in table.columns.values()]
            assert sum(widths[:COLUMNS.index("status") + 1]) <= shown  # before: the last column, past x 100
            await pilot.press("escape")
    run(body)


@pytest.mark.parametrize("where", [["no-such-session"], []])  # a session named, or the picker
def test_a_garbled_at_is_bad_usage_said_before_anything_else(session, capsys, where):
    """`--at soon` is a wrong flag value like `--at -5m` (exit 2), found before the terminal or the session."""
    assert main(["replay", *where, "--at", "soon", "--dir", str(session.parent)]) == 2  # (no terminal here: exit 1)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rigscope: error: --at soon: not a time"), err


def test_a_note_that_cannot_be_saved_is_said_and_the_replay_stays_up(session):
    """A session on a full disk, a read-only mount or another user's folder: `n` says the note was not saved."""

    async def body():
        async with ReplayHarness(session, size=(80, 24)) as (pilot, app, source):
            events = session / "events.jsonl"
            events.unlink()
            events.mkdir()  # the file cannot be opened for writing any more (root ignores permission bits)
            before = len(source.reader.events)
            await pilot.press("n")
            await type_text(pilot, "lost?")
            await pilot.press("enter")
            await pilot.pause(0.2)
            assert app.is_running and len(source.reader.events) == before
            seen = notifications(app)
            assert any(severity == "error" and m.startswith("note not saved: ") for m, severity in seen), seen
            assert not any(m.startswith("note saved") for m, _ in seen), seen
            await pilot.press("q")
    run(body)


def test_a_note_or_tag_typed_in_replay_is_held_to_any_senders_limits(session):
    """A 100 kB note typed in replay went into events.jsonl whole, and a 300-character tag was saved, where a
    recorder cuts the note at 4,096 characters and refuses the tag."""
    from collectors.event_parse import NOTE_CAP
    from recordings.errors import InputError
    from recordings.events import read_events
    from recordings.replay_player import ReplayPlayer

    player = ReplayPlayer(session)
    try:
        stamp = player.now_iso()
        player.post("note", stamp, text="x" * 100_000)
        with pytest.raises(InputError, match="a tag is at most 256 characters"):
            player.post("tag", stamp, state="t" * 300)
    finally:
        player.close()
    events = read_events(session / "events.jsonl")
    notes = [e["text"] for e in events if e["kind"] == "note" and e.get("source") == "replay"]
    assert len(notes) == 1 and NOTE_CAP <= len(notes[0]) < NOTE_CAP + 20
    assert not any(e["kind"] == "tag" and len(e["state"]) == 300 for e in events)
