"""A session still being recorded: it opens from its segments, and its timeline grows as new segments land.

The "recorder" is this test: it writes a session the way the recorder leaves one while running
(meta.json `recording` with a live pid on this host, landed `samples/part-*.parquet` parts), then
lands one more part, and flushes rows to an open journal, itself.  The player thread looks at the segment directory every `poll_s`;
the tests wait (bounded) for the new rows after writing the file, never for wall-clock speed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket

import polars as pl

from recordings.replay import ReplayReader
from recordings.segments import SAMPLES_DIR, part_path, write_parquet_atomic
from tests.replay.conftest import ReplayHarness, run, samples, wait_at, wait_until

FIRST, SECOND = 300, 600  # rows landed before opening, and after the second part


def recording_session(recorded, root):
    """A copy of the recorded session as a running recorder holds it: parts, no samples.parquet."""
    session = root / recorded.name
    session.mkdir(parents=True)
    shutil.copy(recorded / "events.jsonl", session / "events.jsonl")
    meta = json.loads((recorded / "meta.json").read_text())
    meta.update(status="recording", recorder={"pid": os.getpid(), "hostname": socket.gethostname()})
    meta.pop("summary", None)
    (session / "meta.json").write_text(json.dumps(meta))
    (session / SAMPLES_DIR).mkdir()
    write_parquet_atomic(full(recorded).slice(0, FIRST), part_path(session, 1, "parquet"))
    return session


def full(recorded):
    return pl.read_parquet(recorded / "samples.parquet")


def land_second_part(recorded, session):
    write_parquet_atomic(full(recorded).slice(FIRST, SECOND - FIRST), part_path(session, 2, "parquet"))


def test_the_reader_takes_in_landed_segments_then_the_closed_file(recorded, tmp_path):
    session = recording_session(recorded, tmp_path)
    reader = ReplayReader(session)
    assert reader.growing and len(reader) == FIRST
    assert not reader.refresh()  # nothing landed: a directory listing, no rows
    land_second_part(recorded, session)
    assert reader.refresh() and len(reader) == SECOND
    expected = samples(recorded)
    assert list(reader.elapsed) == expected["elapsed_s"].to_list()[:SECOND]
    assert reader.rows(SECOND - 1, SECOND)[0]["ts"] == expected["ts"][SECOND - 1]

    journal = part_path(session, 3, "journal")  # the open segment: rows flushed one line each
    rows = full(recorded).slice(SECOND, 60).with_columns(pl.col("ts").dt.epoch("us"))
    rows.head(50).write_ndjson(journal)
    assert reader.refresh() and len(reader) == SECOND + 50
    with open(journal, "a", encoding="utf-8") as handle:
        handle.write(rows.slice(50, 10).write_ndjson())
    assert reader.refresh() and len(reader) == SECOND + 60
    assert reader.elapsed[-1] == expected["elapsed_s"][SECOND + 59]

    shutil.copy(recorded / "samples.parquet", session / "samples.parquet")  # the recorder closed it
    shutil.rmtree(session / SAMPLES_DIR)
    (session / "meta.json").write_text((recorded / "meta.json").read_text())
    assert reader.refresh() and len(reader) == expected.height and not reader.growing
    assert not reader.refresh()


def test_the_timeline_grows_and_end_reaches_the_newest_segment(recorded, tmp_path):
    session = recording_session(recorded, tmp_path)

    async def body():
        async with ReplayHarness(session, poll_s=0.05) as (pilot, app, source):
            header = app.query_one("#header")
            assert "● recording" in header.render().plain and "/ 0:02:29 " in header.render().plain
            await pilot.press("end")
            await wait_at(pilot, source, FIRST - 1)
            land_second_part(recorded, session)
            await wait_until(pilot, lambda: len(source.reader) == SECOND, 10, "the new segment's rows")
            await wait_until(pilot, lambda: "/ 0:04:59 " in header.render().plain, 10, "the longer duration")
            assert source.position == FIRST - 1  # paused: the position stays, the session grew
            await pilot.press("end")
            await wait_at(pilot, source, SECOND - 1)
            assert source.feed.snapshot(0, ()).frame["ts"] == samples(recorded)["ts"][SECOND - 1]
    run(body)
