"""Imported sessions (`rigscope import` of the lab's CSVs) replay like recorded ones.

The session is built by hand in the shape an import leaves: meta.json with `"source": "imported"`
and status `imported`, a samples.parquet with fewer columns (no CPU power, GPU columns null for
some ticks, no derived columns, so no workload state), and no events.jsonl.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl

from recordings.catalog import catalog_row
from recordings.replay import ReplayReader
from tests.replay.conftest import (
    ReplayHarness,
    events_of,
    frames_equal,
    run,
    tree_hashes,
    type_text,
    wait_at,
    wait_until,
)
from tests.tui.conftest import panel_text, screen_text
from tui.replay_source import SessionDirectory

ROWS = 120  # 2 minutes at 1 Hz


def imported_session(root, elapsed: bool = True):
    session = root / "20250301-120000-labbox"
    session.mkdir(parents=True)
    start = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    (session / "meta.json").write_text(json.dumps({
        "format": "rigscope-session/1", "session_id": session.name, "status": "imported", "source": "imported",
        "session_start": "2025-03-01T12:00:00.000Z", "host": {"hostname": "labbox", "hardware_tier": "nvidia_rtx3060"},
        "gpus": [{"index": 0, "name": "NVIDIA GeForce RTX 3060"}],
        "monitoring": {"sample_hz": 1, "source": "imported"}, "total_samples": ROWS}))
    table = pl.DataFrame({
        "ts": [start + timedelta(seconds=i) for i in range(ROWS)],
        "elapsed_s": [float(i) for i in range(ROWS)],
        "cpu_util_pct": [float(10 + i % 50) for i in range(ROWS)],
        "mem_used_bytes": [8e9 + i * 1e6 for i in range(ROWS)],
        "gpu0_util_pct": [float(i % 100) if i % 3 else None for i in range(ROWS)],  # GPU rows for some ticks only
        "gpu0_temp_c": [60.0 + i % 10 if i % 3 else None for i in range(ROWS)],
    }).with_columns(pl.col("ts").dt.cast_time_unit("us"))
    (table if elapsed else table.drop("elapsed_s")).write_parquet(session / "samples.parquet")
    return session


def test_an_imported_session_is_listed_and_replays_with_its_columns_and_a_note(tmp_path):
    session = imported_session(tmp_path / "sessions")
    (row,) = SessionDirectory(tmp_path / "sessions").list()
    assert row["status"] == "imported" and not row.get("error") and catalog_row(session)["status"] == "imported"
    samples_before = tree_hashes(session)

    async def body():
        async with ReplayHarness(session, size=(120, 40)) as (pilot, app, source):
            assert source.reader.states == [None] * ROWS and source.reader.events == []
            await pilot.press("end")
            await wait_at(pilot, source, ROWS - 1)
            expected = pl.read_parquet(session / "samples.parquet").with_columns(pl.col("ts").dt.epoch("us"))
            assert frames_equal(source.feed.snapshot(0, ()).frame, expected.row(-1, named=True))
            app.dashboard.redraw(force=True)
            await pilot.pause()
            assert "GPU0" in panel_text(app, "gpu0") and "0:01:59 / 0:01:59" in screen_text(app)
            assert "none up to here: n adds a note at this time" in screen_text(app)  # no live-only keys
            band = app.query_one("#timeline").render().plain.splitlines()[1]
            assert band.strip() == ""  # no workload state recorded: no band, never a made-up "idle"
            await pilot.press("n")
            await type_text(pilot, "seen in the import")
            await pilot.press("enter")
            await wait_until(pilot, lambda: events_of(session), 10, "the note in events.jsonl")
    run(body)
    (note,) = events_of(session)
    assert note["text"] == "seen in the import" and note["source"] == "replay"
    after = tree_hashes(session)
    assert after.pop("events.jsonl") and after == samples_before  # only the note was added


def test_without_elapsed_s_the_time_since_the_first_tick_stands_in(tmp_path):
    reader = ReplayReader(imported_session(tmp_path, elapsed=False))
    assert list(reader.elapsed) == [float(i) for i in range(ROWS)]
    assert [row["elapsed_s"] for row in reader.rows(ROWS - 2, ROWS)] == [ROWS - 2.0, ROWS - 1.0]
