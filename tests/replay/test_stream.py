"""Replay is a source: the player publishes a session's rows and events on a frame stream, headless."""

from __future__ import annotations

from collectors.stream import END, RESET, SCREEN
from recordings.replay_player import ReplayPlayer
from tests.replay.conftest import events_of, frames_equal, samples


class Spans:
    """A span watcher that only counts what it is shown."""

    def __init__(self) -> None:
        self.watched = 0

    def watch_spans(self, tracker) -> None:
        self.watched += 1

    def poll_spans(self, force: bool = False) -> None:
        pass


def test_the_player_publishes_every_row_and_event_in_order_after_a_reset(recorded):
    player = ReplayPlayer(recorded, speed=None)
    frames = player.stream.subscribe(SCREEN)  # lossless: the player waits for this reader
    spans = Spans()
    player.start(spans)
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
    assert spans.watched >= 1
