"""The sessions replay opens: complete, interrupted (never repaired), and bad input with one clear line of error.

Opening a session for replay never modifies it: every test that opens one compares the hashes of
its files before and after.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import polars as pl
import pytest

from collectors.timeutil import iso_from_us
from recordings.catalog import catalog_row
from recordings.errors import InputError
from recordings.replay import ReplayReader
from tests.conftest import REPO
from tests.replay.conftest import (
    add_events,
    events_of,
    frames_equal,
    run_cli_tty,
    samples,
    settled_at,
    tree_hashes,
    wait_sync,
)
from tui.replay_source import ReplaySource


def one_error_line(done, *fragments):
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1 and lines[0].startswith("rigscope: error: "), done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def replays_to_the_end(session):
    """Open a ReplaySource, seek to the last row; the frame it shows."""
    source = ReplaySource(session)
    try:
        source.toggle_play()
        last = len(source.reader) - 1
        source.seek_index(last)
        wait_sync(lambda: settled_at(source, last), 5, "the last row")
        return source.feed.snapshot(0, ()).frame
    finally:
        source.close()


# -- sessions that open -------------------------------------------------------------------
def test_a_complete_session_opens_and_replay_modifies_nothing(session):
    before = tree_hashes(session)
    assert catalog_row(session)["status"] == "complete"
    frame = replays_to_the_end(session)
    assert frames_equal(frame, samples(session).row(-1, named=True))
    assert tree_hashes(session) == before


def journal_rows(session):
    """Complete lines of the session's journals (what a crash leaves), and the Parquet parts' rows."""
    rows = 0
    for path in sorted((session / "samples").iterdir()):
        if path.suffix == ".journal":
            data = path.read_bytes()
            rows += data[: data.rfind(b"\n") + 1].count(b"\n")
        elif path.suffix == ".parquet":
            rows += pl.read_parquet(path).height
    return rows


def last_journal_row(session):
    journals = sorted((session / "samples").glob("*.journal"))
    data = journals[-1].read_bytes()
    return json.loads(data[: data.rfind(b"\n")].rsplit(b"\n", 1)[-1])


def test_an_interrupted_session_replays_from_its_segments_without_repair(tmp_path):
    root = tmp_path / "sessions"
    env = {k: v for k, v in os.environ.items() if k != "RIGSCOPE_DIR"}
    recorder = subprocess.Popen([sys.executable, "-m", "rigscope", "record", "--source", "sim", "--hz", "20",
                                 "--flush-interval", "0.2", "--segment-interval", "1", "--dir", str(root)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO, env=env)
    try:
        def size(path):  # a journal can land (become Parquet, and go) between the listing and the stat
            try:
                return path.stat().st_size
            except FileNotFoundError:
                return 0

        def flushed():
            parts = list(root.glob("*/samples/part-*"))
            journals = [p for p in parts if p.suffix == ".journal" and size(p) > 2000]
            return len([p for p in parts if p.suffix == ".parquet"]) >= 2 and journals
        wait_sync(flushed, 30, "two Parquet parts and a flushed journal")
    finally:
        recorder.send_signal(signal.SIGKILL)
        recorder.wait(timeout=10)
    (session,) = root.iterdir()
    assert not (session / "samples.parquet").exists()
    assert json.loads((session / "meta.json").read_text())["status"] == "recording"
    assert catalog_row(session)["status"] == "interrupted"
    before = tree_hashes(session)

    reader = ReplayReader(session)
    assert len(reader) == journal_rows(session) > 40
    assert all(b > a for a, b in zip(reader.elapsed, reader.elapsed[1:]))
    assert reader.elapsed[0] == 0.0 and reader.elapsed[1] == pytest.approx(0.05, abs=0.03)
    frame = replays_to_the_end(session)
    assert frame["elapsed_s"] == pytest.approx(last_journal_row(session)["elapsed_s"])
    assert tree_hashes(session) == before  # not repaired, not compacted: untouched


# -- bad input ---------------------------------------------------------------------------
def test_a_missing_session_is_one_line_and_exit_1(session, tmp_path):
    root = session.parent
    done = run_cli_tty("replay", "no-such-session", "--dir", str(root))
    one_error_line(done, "no session 'no-such-session'", str(root))
    done = run_cli_tty("replay", "latest", "--dir", str(tmp_path / "empty"))
    one_error_line(done, "no sessions in")
    done = run_cli_tty("replay", "--dir", str(tmp_path / "empty"))  # the picker, with nothing to pick
    one_error_line(done, "no sessions in")


def test_without_a_terminal_replay_says_so_in_one_line(session):
    env = {k: v for k, v in os.environ.items() if k != "RIGSCOPE_DIR"}
    done = subprocess.run([sys.executable, "-m", "rigscope", "replay", "no-such-session", "--dir",
                           str(session.parent)], capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    one_error_line(done, "terminal")  # the terminal is checked first


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty file"])
def test_an_unreadable_parquet_file_is_a_clear_error_and_nothing_is_modified(session, damage):
    parquet = session / "samples.parquet"
    data = parquet.read_bytes()
    parquet.write_bytes({"garbage": b"this is not parquet\n" * 100, "truncated": data[: len(data) // 2],
                         "empty file": b""}[damage])
    before = tree_hashes(session)
    with pytest.raises(InputError, match="samples.parquet: unreadable Parquet file"):
        ReplayReader(session)
    with pytest.raises(InputError, match="unreadable Parquet file"):
        ReplaySource(session)
    done = run_cli_tty("replay", str(session))
    one_error_line(done, "samples.parquet", "unreadable Parquet file")
    assert tree_hashes(session) == before


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_damaged_data_column_is_reported_not_swallowed(session):
    pq = pytest.importorskip("pyarrow.parquet")
    parquet = session / "samples.parquet"
    group = pq.ParquetFile(parquet).metadata.row_group(0)
    column = next(group.column(i) for i in range(group.num_columns) if group.column(i).path_in_schema == "gpu0_temp_c")
    start = column.dictionary_page_offset or column.data_page_offset
    data = bytearray(parquet.read_bytes())
    for k in range(start + 8, start + column.total_compressed_size - 4):
        data[k] ^= 0x5A
    parquet.write_bytes(bytes(data))
    before = tree_hashes(session)
    try:
        source = ReplaySource(session)
    except InputError as error:  # reported at open: fine
        assert "samples.parquet" in str(error)
    else:
        try:
            time.sleep(1.0)
            reported = source.notices()
            assert any("samples.parquet" in message for message in reported), reported
        finally:
            source.close()
    assert tree_hashes(session) == before


def test_a_broken_meta_json_is_a_clear_error(session):
    (session / "meta.json").write_text("{garbage")
    before = tree_hashes(session)
    with pytest.raises(InputError, match="meta.json: unreadable"):
        ReplayReader(session)
    one_error_line(run_cli_tty("replay", str(session)), "meta.json")
    assert tree_hashes(session) == before


def test_a_session_without_samples_is_a_clear_error(session):
    parquet = session / "samples.parquet"
    pl.read_parquet(parquet).head(0).write_parquet(parquet)  # closed with no rows
    before = tree_hashes(session)
    with pytest.raises(InputError, match="has no samples"):
        ReplayReader(session)
    one_error_line(run_cli_tty("replay", str(session)), session.name, "has no samples")
    assert tree_hashes(session) == before

    parquet.unlink()  # killed before its first flush: meta.json, no segment
    meta = json.loads((session / "meta.json").read_text())
    meta["status"] = "recording"
    (session / "meta.json").write_text(json.dumps(meta))
    before = tree_hashes(session)
    with pytest.raises(InputError, match="has no samples"):
        ReplaySource(session)
    assert tree_hashes(session) == before
    one_error_line(run_cli_tty("replay", str(session)), "has no samples")
    assert json.loads((session / "meta.json").read_text())["status"] == "interrupted"  # the command finished it


def test_invalid_event_lines_are_skipped_with_a_warning(session, capfd):
    ts = samples(session)["ts"].to_list()
    valid = events_of(session)

    with open(session / "events.jsonl", "a", encoding="utf-8") as handle:
        handle.write("not json at all\n")
        handle.write('["a", "list"]\n')
        handle.write('{"ts": "2026-01-01T00:00:00Z"}\n')  # no kind
        handle.write('{"kind": "note", "text": "no ts"}\n')
        handle.write("\n")
    add_events(session, {"ts": iso_from_us(ts[50]), "kind": "note", "text": "valid note", "source": "cli"})
    with open(session / "events.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"ts": "2026-01-01T00:00:00Z", "kind": "no')  # a cut last line
    before = tree_hashes(session)
    capfd.readouterr()
    source = ReplaySource(session)
    try:
        assert sorted(str(e.get("text")) for e in source.reader.events) == sorted(["None"] * len(valid) + ["valid note"])
        assert capfd.readouterr().err == ""  # nothing under the dashboard: one notice on screen instead
        n = len(valid)
        assert source.notices() == [f"{session / 'events.jsonl'}: skipped 5 invalid event lines "
                                    f"(line {n + 1}, {n + 2}, {n + 3}, {n + 4}, {n + 7})"]
        assert source.notices() == []  # once
        source.toggle_play()
        assert source.jump(("note", "tag"), True)
        wait_sync(lambda: settled_at(source, 50), 5)
    finally:
        source.close()
    assert tree_hashes(session) == before


@pytest.mark.parametrize("ts", [1700000000, None])
def test_an_event_with_a_non_string_ts_is_skipped(session, ts):
    add_events(session, {"ts": ts, "kind": "note", "text": "odd"})
    source = ReplaySource(session)
    source.close()
