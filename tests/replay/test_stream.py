"""Replay is a source: the player publishes a session's rows and events on a frame stream, headless."""

from __future__ import annotations

from collectors.stream import END, RESET, SCREEN
from collectors.timeutil import iso_from_us
from recordings.processes import read_processes
from recordings.replay_player import WINDOW_S, ReplayPlayer
from tests.replay.conftest import events_of, frames_equal, samples
from tests.replay.test_probe_replay import _plant


def test_the_player_publishes_every_row_and_event_in_order_after_a_reset(recorded):
    player = ReplayPlayer(recorded, speed=None)
    frames = player.stream.subscribe(SCREEN)  # lossless: the player waits for this reader
    player.start()
    rows, events, first = [], [], None
    try:
        while len(rows) < len(player.reader):
            batch = frames.get(timeout=10)
            assert batch is not None and batch is not END
            first = batch if first is None else first
            if batch.frame is not None:
                rows.append(batch.frame)
            events.extend(batch.events)
    finally:
        player.close()
    assert first is RESET  # the start is a seek to row 0: whatever a screen showed goes
    df = samples(recorded)
    assert len(rows) == df.height and all(frames_equal(rows[i], df.row(i, named=True)) for i in (0, 1, df.height - 1))
    recorded_events = sorted(events_of(recorded), key=lambda e: e["ts"])
    assert [e["ts"] for e in events] == [e["ts"] for e in recorded_events][:len(events)]


def _played(frames, rows: int) -> list:
    """The batches published until `rows` frames came and the player published nothing for a second."""
    batches, seen = [], 0
    while True:
        batch = frames.get(timeout=10 if seen < rows else 1)
        if batch is None and seen >= rows:
            return batches
        assert batch is not None and batch is not END
        batches.append(batch)
        seen += batch.frame is not None


def test_spans_and_process_rows_travel_on_the_stream_and_a_seek_restates_them(session):
    """The replay publishes the spans as the position passes their end and the process rows of the slow
    tick it reached, each once, as the live span assembler and process tier tell theirs; after a seek back, RESET, then every span
    ended by the new position and the rows of its tick."""
    rows, _ = _plant(session)
    player = ReplayPlayer(session, speed=None)
    frames = player.stream.subscribe(SCREEN)
    player.start()
    try:
        played = _played(frames, len(player.reader))
        player.playing = False
        middle = len(player.reader) // 2
        player.seek_index(middle)
        first = frames.get(timeout=10)
        while first is not RESET:  # what the last steps published before the seek was applied
            first = frames.get(timeout=10)
        after = _played(frames, min(middle + 1, int(player.hz * WINDOW_S)))
    finally:
        player.close()
    spans = [row for batch in played for row in batch.spans]
    assert [row["request_id"] for row in spans] == [row["request_id"] for row in rows]  # in end order, each once
    ticks = read_processes(session).get_column("ts").dt.epoch("us").unique().sort().to_list()
    shown = [batch.processes for batch in played if batch.processes is not None]
    stamps = [snapshot.ts for snapshot in shown]  # the tick at the position after each step: at speed max
    assert stamps == sorted(set(stamps)) and set(stamps) <= set(ticks)  # a step spans many ticks
    assert stamps[-1] == ticks[-1] and all(len(snapshot.rows) > 0 for snapshot in shown)
    here = player.reader.ts_us[middle]
    (restated_spans,) = [batch.spans for batch in after if batch.spans]  # every span ended by then, at once
    assert [row["request_id"] for row in restated_spans] == [
        row["request_id"] for row in rows if row["end_time"] <= iso_from_us(here)]
    restated = [batch.processes for batch in after if batch.processes is not None]
    assert len(restated) == 1 and restated[0].ts == max(t for t in ticks if t <= here)
