"""A session whose monitor died keeps its finished spans: repair turns the journal into spans.parquet."""

from __future__ import annotations

import json
import time

import polars as pl

import rigscope
from recordings.repair import repair_session
from recordings.spans import SPANS_JOURNAL, SPANS_PARQUET, read_spans
from rigscope import probe
from rigscope.monitor import Monitor, MonitorConfig


def test_repair_writes_the_span_table_from_the_journal(tmp_path, runtime):
    monitor = Monitor(MonitorConfig(source="sim", speed=1.0, hz=20, directory=str(tmp_path)))
    monitor.start()
    try:
        for number in range(3):
            with rigscope.span("synthesis", request_id=f"r{number}", tokens=10):
                time.sleep(0.01)
        probe.flush()
        deadline = time.monotonic() + 10
        while monitor.span_statistics.summary()["total"] < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        session = monitor.session
        assert (session / SPANS_JOURNAL).is_file()
        assert read_spans(session).height == 3  # a running session's spans, from its journal
        journal = (session / SPANS_JOURNAL).read_text()
    finally:
        monitor.stop()
    # As a kill -9 leaves it: the journal, no table, meta.json still "recording" for a dead recorder.
    (session / SPANS_PARQUET).unlink()
    (session / SPANS_JOURNAL).write_text(journal + '{"request_id": "cut')
    meta = json.loads((session / "meta.json").read_text())
    meta.update(status="recording", summary={})
    meta["recorder"]["pid"] = 2**22 + 12345  # no such process
    (session / "meta.json").write_text(json.dumps(meta))
    repair_session(session)
    spans = pl.read_parquet(session / SPANS_PARQUET)
    assert sorted(spans["request_id"]) == ["r0", "r1", "r2"] and not (session / SPANS_JOURNAL).exists()
    summary = json.loads((session / "meta.json").read_text())["summary"]["spans"]
    assert summary["total"] == 3 and summary["successful"] == 3 and summary["avg_tokens_per_sec"] > 0
