"""Seeks and playback of ReplaySource (no UI): what the dashboard would show is the recorded data."""

from __future__ import annotations

import argparse
import time

import polars as pl
import pytest

from collectors.timeutil import us_from_iso
from recordings.errors import InputError
from recordings.replay import ReplayReader
from rigscope.replay_command import replay_app
from tests.replay.conftest import events_of, frames_equal, same_value, samples, settled_at, wait_sync
from tui.devices import Device
from tui.replay_source import ReplaySource

WINDOW_S = 30.0  # a short window holds raw rows (from a minute up, the feed keeps per-second means)


def series_names(source: ReplaySource) -> list[str]:
    return [name for device in source.devices for name in device.series_names()]


def numeric(value):
    return float(value) if isinstance(value, (int, float)) else None


@pytest.fixture
def paused(recorded):
    source = ReplaySource(recorded)
    source.toggle_play()
    wait_sync(lambda: settled_at(source, 0), 5, "the first frame")
    yield source
    source.close()


def test_reader_axis_matches_the_parquet_file(recorded):
    df = samples(recorded)
    reader = ReplayReader(recorded)
    assert len(reader) == df.height == 960
    assert list(reader.elapsed) == df["elapsed_s"].to_list()
    assert list(reader.ts_us) == df["ts"].to_list()
    assert reader.states == df["workload_state"].to_list()
    assert reader.duration_s == df["elapsed_s"][-1] - df["elapsed_s"][0]
    assert reader.columns == df.columns
    assert reader.rows(10, 13) == df.slice(10, 3).to_dicts()
    assert reader.rows(-5, 2) == df.head(2).to_dicts() and reader.rows(958, 2000) == df.tail(2).to_dicts()
    assert reader.rows(5, 5) == []
    assert reader.index_at(-1) == 0 and reader.index_at(10.0) == 20 and reader.index_at(10.4) == 20
    assert reader.index_at(1e9) == 959
    assert reader.index_at_ts(reader.ts_us[33]) == 33 and reader.index_at_ts(reader.ts_us[33] - 1) == 32
    assert [e["kind"] for e in reader.events] == [e["kind"] for e in events_of(recorded)]


@pytest.mark.parametrize("target", [700, 5, 959, 0, 239, 240, 400])
def test_after_a_seek_the_frame_is_the_recorded_row_and_the_window_the_rows_before(paused, recorded, target):
    source = paused
    df = samples(recorded)
    source.seek_index(500)  # somewhere else first, so the feed is refilled by the seek under test
    wait_sync(lambda: settled_at(source, 500), 5)
    source.seek_index(target)
    wait_sync(lambda: settled_at(source, target), 5, f"row {target}")
    snapshot = source.feed.snapshot(WINDOW_S, series_names(source))
    assert frames_equal(snapshot.frame, df.row(target, named=True))

    window = int(WINDOW_S * source.feed.hz)  # 60 rows at 2 Hz
    first = max(0, target - window + 1)
    for name in series_names(source):
        expected = [numeric(v) for v in df[name].slice(first, target + 1 - first).to_list()]
        shown = list(snapshot.series[name])
        assert len(shown) == len(expected), name
        assert all(same_value(a, b) for a, b in zip(shown, expected)), name

    here = df["ts"][target]
    expected_events = [e for e in events_of(recorded) if us_from_iso(e["ts"]) <= here]
    assert list(snapshot.events) == expected_events
    collapses = {d: c.events for d, c in snapshot.collapses.items()}
    started = [e["device"] for e in expected_events if e["kind"] == "collapse_start"]
    assert collapses == {d: started.count(d) for d in set(started)}


def test_seek_elapsed_step_and_step_seconds(paused, recorded):
    source = paused
    df = samples(recorded)
    source.seek_elapsed(100.2)  # the last row at or before
    wait_sync(lambda: settled_at(source, 200), 5)
    source.step(3)
    wait_sync(lambda: settled_at(source, 203), 5)
    source.step(-10)
    wait_sync(lambda: settled_at(source, 193), 5)
    source.step_seconds(30)
    wait_sync(lambda: settled_at(source, 253), 5)
    source.seek_index(10_000)
    wait_sync(lambda: settled_at(source, 959), 5)
    source.seek_index(-4)
    wait_sync(lambda: settled_at(source, 0), 5)
    assert frames_equal(source.feed.snapshot(0, ()).frame, df.row(0, named=True))
    assert not source.playing


def test_seeks_requested_back_to_back_end_on_the_last(paused):
    source = paused
    for index in (100, 300, 50, 800, 123):
        source.seek_index(index)
    wait_sync(lambda: settled_at(source, 123), 5)
    time.sleep(0.2)
    assert settled_at(source, 123)


def test_start_at_a_time(recorded):
    reader = ReplayReader(recorded)
    assert reader.goto("+2m", 0) == (reader.index_at(120.0), False)
    assert reader.goto("90", 0) == (reader.index_at(90.0), False)
    assert reader.goto("2m", 0) == reader.goto("+2m", 0)  # with or without +: from the start, as `g` at the start
    with pytest.raises(InputError, match="--at soon: not a time; HH:MM:SS"):
        ReplaySource(recorded, at="soon")


def test_start_past_the_end_says_so_and_opens_the_session_once(recorded, capsys, monkeypatch, tmp_path):
    reader = ReplayReader(recorded)
    assert reader.goto("9h", 0) == (len(reader) - 1, True)
    opened = []
    real = ReplayReader.__init__

    def counted(self, session):
        opened.append(session)
        real(self, session)

    monkeypatch.setattr(ReplayReader, "__init__", counted)
    args = argparse.Namespace(speed=1.0, at="9h", fps=2.0, ascii=False)
    _, late = replay_app(recorded, tmp_path, args)  # before: --at was read from a reader of its own
    try:
        wait_sync(lambda: late.position == len(reader) - 1, 5, "the start at the end")
    finally:
        late.close()
    assert opened == [recorded]
    assert "--at 9h is past the end" in capsys.readouterr().err
    source = ReplaySource(recorded, speed=None, at="+2m")
    try:
        source.toggle_play()
        wait_sync(lambda: source.position >= 240 and source.feed.snapshot(0, ()).frame, 5)
        assert source.position in range(240, 960)
    finally:
        source.close()


def test_playing_at_max_reaches_the_end_and_stops(recorded):
    df = samples(recorded)
    source = ReplaySource(recorded, speed=None)
    try:
        wait_sync(lambda: not source.playing, 10, "the end of the session")
        assert settled_at(source, 959)
        assert frames_equal(source.feed.snapshot(0, ()).frame, df.row(959, named=True))
        assert len(source.feed.snapshot(0, ()).events) == len(events_of(recorded))
    finally:
        source.close()


def test_playing_at_x1_moves_the_position(recorded):
    source = ReplaySource(recorded, speed=1.0)  # 2 Hz: 0.5 s a row; a tick is 0.05 s
    try:
        deadline = time.monotonic() + 2.0  # ≈4 rows at x1; assert only that it moved
        while time.monotonic() < deadline and source.position == 0:
            time.sleep(0.05)
        assert source.position > 0
    finally:
        source.close()


def test_ten_seconds_is_one_hundred_rows_at_10hz(recorded_10hz):
    source = ReplaySource(recorded_10hz)
    try:
        source.toggle_play()
        wrong = []
        for start in (1, 2, 6, 7, 11):
            source.seek_index(start)
            wait_sync(lambda: settled_at(source, start), 5)
            source.step_seconds(10)
            wait_sync(lambda: source.position != start, 5)
            if source.position != start + 100:
                wrong.append((start, source.position))
        assert wrong == []
    finally:
        source.close()


def test_devices_come_from_meta(recorded):
    source = ReplaySource(recorded)
    try:
        assert [d.prefix for d in source.devices] == ["cpu", "gpu0", "gpu1"]
        assert all(isinstance(d, Device) for d in source.devices)
        assert source.label.session_id == recorded.name and source.label.host == "sim-rig"
        assert source.feed.hz == 2.0
        assert set(series_names(source)) <= set(pl.read_parquet_schema(recorded / "samples.parquet"))
    finally:
        source.close()


def test_a_replayed_gpu_with_gpm_has_its_sm_row(session):
    from tui.replay_source import ReplaySource

    source = ReplaySource(session, speed=None)
    try:
        assert [d.gpm for d in source.devices] == [False, True, True]  # the simulated GPUs have GPM
        assert "gpu0_sm_active_pct" in source.devices[1].series_names()
    finally:
        source.close()
