"""Recorder round trips, segments, crash recovery and repair, on the simulated source with a virtual clock."""

from __future__ import annotations

import json
import os
import socket
import time

import polars as pl
import pytest

from collectors.clock import VirtualClock
from collectors.sampler import Sampler
from collectors.schema import session_columns
from collectors.signals import SignalPipeline
from collectors.simulated import SimulatedCollector
from collectors.stream import Batch, LossyQueue, PolledQueue
from recordings import segments
from recordings.catalog import catalog_row
from recordings.errors import InputError
from recordings.reader import read_samples
from recordings.recorder import Recorder, RecorderOptions
from recordings.repair import needs_repair, repair_session
from recordings.session import create_session_dir, read_meta, resolve_session, session_status
from tests.waiting import wait_sync


def record(tmp_path, seconds=20.0, hz=10.0, gpus=2, formats=("parquet", "csv"), segment_s=60.0, tags=()):
    clock = VirtualClock(start_wall_us=1_800_000_000_000_000)
    indices = list(range(gpus))
    signals = SignalPipeline(indices)
    sampler = Sampler([SimulatedCollector(gpu_count=gpus, seed=3)], hz, clock, seconds, signals)
    session = create_session_dir(tmp_path, __import__("datetime").datetime(2027, 1, 1), "testhost")
    meta = {"format": "rigscope-session/1", "session_id": session.name, "status": "recording",
            "recorder": {"pid": os.getpid(), "hostname": "elsewhere"}, "gpus": [{"index": i} for i in indices],
            "monitoring": {"sample_hz": hz}}
    recorder = Recorder(session, meta, session_columns(indices), sampler.attach(LossyQueue(10_000)),
                        RecorderOptions(frozenset(formats), segment_interval_s=segment_s), summary=signals.summary)
    for tag in tags:
        sampler.post_event(tag)
    recorder.start()
    sampler.run_inline()
    recorder.join(timeout=60)
    return session, recorder


def test_parquet_and_csv_hold_the_same_values(tmp_path):
    session, recorder = record(tmp_path)
    parquet = pl.read_parquet(session / "samples.parquet")
    csv = pl.read_csv(session / "samples.csv", infer_schema_length=None)
    assert recorder.samples == parquet.height == csv.height == 200
    assert {"gpu0_util_pct", "gpu1_util_pct", "gpu1_throttle_reasons", "workload_state"} <= set(parquet.columns)
    for name in ("elapsed_s", "gpu0_util_pct", "gpu1_power_w", "cpu_rle_smoothed", "mem_used_bytes"):
        assert parquet[name].to_list() == pytest.approx(csv[name].to_list(), rel=1e-12, nan_ok=True)
    assert parquet["cpu_core_util_pct"].list.get(3).to_list() == pytest.approx(csv["cpu_core3_util_pct"].to_list())
    assert parquet["workload_state"].to_list() == csv["workload_state"].to_list()
    first_csv_ts = csv["ts"][0]
    assert first_csv_ts.endswith("Z") and parquet["ts"].dtype == pl.Datetime("us", "UTC")
    assert parquet["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")[0] == first_csv_ts


def test_pandas_reads_both_files(tmp_path):
    pandas = pytest.importorskip("pandas")
    session, _ = record(tmp_path, seconds=3)
    assert len(pandas.read_parquet(session / "samples.parquet")) == 30
    assert len(pandas.read_csv(session / "samples.csv")) == 30


def test_close_writes_meta_summary_and_removes_segments(tmp_path):
    session, _ = record(tmp_path, seconds=130, hz=2, segment_s=60, formats=("parquet",))
    meta = read_meta(session)
    assert meta["status"] == "complete" and meta["total_samples"] == 260
    assert meta["summary"]["samples"] == 260 and "gpu1" in meta["summary"]["devices"]
    assert not (session / segments.SAMPLES_DIR).exists()
    assert meta["session_end"].startswith("2027-01-15") or meta["session_end"].endswith("Z")


def test_tags_and_events_reach_events_jsonl(tmp_path):
    tag = {"ts": "2027-01-15T08:00:05.000000Z", "kind": "tag", "state": "eval", "source": "cli"}
    session, _ = record(tmp_path, seconds=10, tags=[tag])
    lines = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    assert lines[0] == tag
    states = pl.read_parquet(session / "samples.parquet")["workload_state"].to_list()
    assert "eval" in states


def crash_like(tmp_path, rows=25, cut=True, host=None):
    """A session as kill -9 leaves it: one landed part, one journal with a torn last line, status recording."""
    session, _ = record(tmp_path, seconds=30, hz=2, formats=("parquet", "csv"))
    meta = read_meta(session)
    table = pl.read_parquet(session / "samples.parquet")
    (session / "samples.parquet").unlink()
    samples = session / segments.SAMPLES_DIR
    samples.mkdir()
    segments.write_parquet_atomic(table.head(rows), samples / "part-000001.parquet")
    lines = [json.dumps({**row, "ts": int(row["ts"].timestamp() * 1e6)}, default=str)
             for row in table.slice(rows).to_dicts()]
    text = "\n".join(lines) + "\n" + (lines[0][:40] if cut else "")
    (samples / "part-000002.journal").write_text(text)
    (session / "samples.csv").write_text((session / "samples.csv").read_text() + "2027-01-15T08:00,1.")
    meta["status"] = "recording"
    meta["recorder"] = {"pid": 2**22 + 12345, "hostname": host or socket.gethostname()}  # a dead pid
    (session / "meta.json").write_text(json.dumps(meta))
    return session, table


def test_interrupted_session_opens_without_losing_flushed_rows(tmp_path):
    session, table = crash_like(tmp_path)
    assert session_status(read_meta(session)) == "interrupted"
    recovered = read_samples(session)
    assert recovered.height == table.height
    assert recovered["elapsed_s"].to_list() == table["elapsed_s"].to_list()


def test_leftover_journal_loses_to_its_parquet(tmp_path):
    session, table = crash_like(tmp_path)
    samples = session / segments.SAMPLES_DIR
    (samples / "part-000001.journal").write_text('{"ts": 1, "elapsed_s": -5}\n')
    assert read_samples(session).height == table.height


def test_repair_compacts_and_marks_interrupted(tmp_path):
    session, table = crash_like(tmp_path)
    assert needs_repair(session)
    message = repair_session(session)
    assert "60 samples" in message
    meta = read_meta(session)
    assert meta["status"] == "interrupted" and meta["total_samples"] == table.height
    assert meta["summary"]["samples"] == table.height
    assert pl.read_parquet(session / "samples.parquet").height == table.height
    assert (session / "samples.csv").read_text().endswith("\n")
    assert not needs_repair(session)
    assert "already repaired at " in repair_session(session)  # a second repair says it was done
    assert catalog_row(session)["status"] == "repaired"  # ls no longer lists it as interrupted


def test_repair_refuses_a_session_another_host_is_recording_into_unless_forced(tmp_path):
    """A shared directory: the recorder on another host cannot be asked, but its journal changed a moment ago."""
    session, table = crash_like(tmp_path, host="other-node")
    assert session_status(read_meta(session), session) == "recording"  # what `ls` says
    assert not needs_repair(session)
    with pytest.raises(InputError, match="still recording on other-node.*--force"):
        repair_session(session)
    assert (session / segments.SAMPLES_DIR).is_dir() and read_meta(session)["status"] == "recording"
    assert "60 samples" in repair_session(session, force=True)


def test_repair_takes_a_session_of_another_host_once_its_files_went_quiet(tmp_path):
    session, _ = crash_like(tmp_path, host="other-node")
    quiet = time.time() - 3600
    for path in [*(session / segments.SAMPLES_DIR).iterdir(), session / "events.jsonl"]:
        os.utime(path, (quiet, quiet))
    assert needs_repair(session)
    assert "60 samples" in repair_session(session)


def test_resolve_session_by_prefix_latest_and_errors(tmp_path):
    first, _ = record(tmp_path, seconds=1)
    second, _ = record(tmp_path, seconds=1)
    assert resolve_session("latest", tmp_path) == second
    assert resolve_session(second.name, tmp_path) == second
    assert resolve_session(str(first), tmp_path) == first
    with pytest.raises(InputError, match="ambiguous"):
        resolve_session("2027", tmp_path)
    with pytest.raises(InputError, match="no session"):
        resolve_session("nope", tmp_path)


def test_disk_full_stops_recording_and_keeps_what_was_flushed(tmp_path, monkeypatch):
    calls = {"n": 0}
    real_write = segments.write_parquet_atomic

    def full_after_first(table, path):
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError(28, "No space left on device", str(path))
        real_write(table, path)

    monkeypatch.setattr(segments, "write_parquet_atomic", full_after_first)
    session, recorder = record(tmp_path, seconds=200, hz=1, segment_s=60, formats=("parquet",))
    assert recorder.error is not None and "disk full" in recorder.error
    meta = read_meta(session)
    assert meta["status"] == "interrupted" and "disk full" in meta["error"]
    assert read_samples(session).height >= 60  # the landed segment and the flushed journal


def test_a_polled_queue_loses_nothing_to_the_flush(tmp_path):
    """The recorder looks at a polled queue only now and then: a flush still holds every batch queued before it."""
    session = create_session_dir(tmp_path, __import__("datetime").datetime(2027, 1, 1), "testhost")
    frames = PolledQueue(100, 3600.0)  # it wakes only for its flush
    recorder = Recorder(session, {"format": "rigscope-session/1", "status": "recording"}, session_columns([]),
                        frames, RecorderOptions(frozenset({"parquet"}), flush_interval_s=0.5))
    recorder.start()
    offered = time.time()
    for i in range(5):
        frames.offer(Batch({"ts": 1_800_000_000_000_000 + i * 100_000, "elapsed_s": i / 10}))
    wait_sync(lambda: (recorder.last_flush_wall or 0) >= offered, 30, "a flush after the batches were queued")
    journal = segments.part_path(session, 1, "journal")
    assert len(journal.read_text().splitlines()) == 5
    frames.close()
    recorder.join(timeout=30)
    assert read_meta(session)["total_samples"] == 5


def test_samples_parquet_keeps_ten_minutes_a_row_group_so_a_replay_seek_decodes_little(tmp_path):
    import pyarrow.parquet as pq

    from recordings.session import row_group_rows

    assert row_group_rows({"monitoring": {"sample_hz": 10.0}}) == 6000
    assert row_group_rows({"monitoring": {"sample_hz": 0.1}}) == 1024
    assert row_group_rows({"monitoring": {}}) is None
    session, _ = record(tmp_path, seconds=1250.0, hz=2.0, gpus=1, formats=("parquet",))  # 1,200 rows a group
    groups = pq.ParquetFile(session / "samples.parquet").metadata
    assert groups.num_rows == 2500 and groups.num_row_groups == 3 and groups.row_group(0).num_rows == 1200
