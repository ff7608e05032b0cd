"""Probe events in bursts up to the event receiver's own limit (20,000 a second) reach the sinks that must not
lose them (the session writer, the span assembler) complete and in order; what a queue still drops is
counted in meta.json and said as a notice, never lost silently."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from collectors import sampler as sampler_module
from collectors.clock import RealClock
from collectors.receiver import RATE_BURST
from collectors.sampler import END, Sampler
from collectors.stream import SCREEN, SESSION_WRITER
from collectors.timeutil import iso_from_us
from rigscope import monitor as monitor_module
from rigscope.monitor import Monitor, MonitorConfig
from tests.probe.conftest import runtime  # noqa: F401  (the probe tests' runtime directory)

METRICS_PER_SPAN = 8
SPANS = int(RATE_BURST) // (METRICS_PER_SPAN + 2)  # with their starts and ends: exactly the receiver's burst




def burst(spans: int) -> Iterator[dict[str, Any]]:
    """Spans, each with METRICS_PER_SPAN metrics inside, stamped over one second."""
    total = spans * (METRICS_PER_SPAN + 2)
    t0_us = 1_700_000_000_000_000
    stamps = (iso_from_us(t0_us + i * 1_000_000 // total) for i in range(total))
    step = 0
    for n in range(spans):
        start = next(stamps)
        yield {"kind": "span_start", "ts": start, "span_id": f"s{n}", "name": "step", "parent_id": None, "attrs": {}}
        for _ in range(METRICS_PER_SPAN):
            yield {"kind": "metric", "ts": next(stamps), "name": "flood", "value": float(step), "step": step}
            step += 1
        yield {"kind": "span_end", "ts": next(stamps), "span_id": f"s{n}", "name": "step", "parent_id": None,
               "start_ts": start, "duration_s": 0.001, "success": True, "error": None, "attrs": {}}


def record_burst(directory: Path, spans: int) -> tuple[Path, dict[str, Any]]:
    """A simulated recorder in real time takes the burst through its event receiver; its session and meta.json."""
    running = Monitor(MonitorConfig(source="sim", speed=1.0, hz=20, directory=str(directory)))
    running.start()
    try:
        taken = sum(running.offer_event(event) for event in burst(spans))
    finally:
        running.stop()
    assert taken == spans * (METRICS_PER_SPAN + 2)  # the receiver accepted every one
    assert running.session is not None
    return running.session, json.loads((running.session / "meta.json").read_text())


def test_a_burst_at_the_receivers_limit_reaches_the_writer_and_the_span_assembler_complete(runtime, tmp_path):
    session, meta = record_burst(tmp_path, SPANS)
    assert meta["summary"]["event_receiver"]["rate_limited"] == 0
    lines = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    steps = [line["step"] for line in lines if line["kind"] == "metric"]
    assert steps == list(range(SPANS * METRICS_PER_SPAN))  # every one, in order
    stamps = [line["ts"] for line in lines if line["kind"] == "metric"]
    assert stamps == sorted(stamps)
    spans = pl.read_parquet(session / "spans.parquet")
    assert spans["span_id"].to_list() == [f"s{n}" for n in range(SPANS)]
    assert all(sum(counts.values()) == 0 for counts in meta["summary"]["stream_drops"].values())
    assert not [w for w in meta["warnings"] if "dropped" in w]


def test_what_an_overflowing_queue_drops_is_counted_in_meta_json(runtime, tmp_path, monkeypatch):
    # A session writer's queue of 5 batches, and every event a batch of its own: it must overflow.
    monkeypatch.setattr(monitor_module, "SESSION_WRITER", dataclasses.replace(SESSION_WRITER, min_batches=5,
                                                                              backlog_s=0.0))
    monkeypatch.setattr(sampler_module, "EVENT_BATCH_S", 0.0)
    notices: list[str] = []
    monkeypatch.setattr(monitor_module.NoticeSink, "tell",
                        lambda sink, message, tell=monitor_module.NoticeSink.tell: (notices.append(message),
                                                                                    tell(sink, message)))
    session, meta = record_burst(tmp_path, 100)
    lost = meta["summary"]["stream_drops"]["session writer"]
    written = sum(1 for _ in (session / "events.jsonl").read_text().splitlines())
    assert lost["events"] > 0
    assert written + lost["events"] >= 100 * (METRICS_PER_SPAN + 2)  # what is missing is counted
    said = [w for w in meta["warnings"] if "session writer" in w and "dropped" in w]
    assert said, meta["warnings"]
    assert any("session writer" in n and "dropped" in n for n in notices)  # on screen too, while it runs


def test_a_note_inside_a_flood_reaches_the_screen():
    sampler = Sampler([], hz=1, clock=RealClock())  # a real-time stream: its queues are bounded and lossy
    screen = sampler.subscribe(SCREEN)
    flood = [{"kind": "metric", "ts": iso_from_us(j), "name": "flood", "value": 1.0, "step": j}
             for j in range(int(RATE_BURST))]
    note = {"kind": "note", "ts": iso_from_us(10_000), "text": "lr dropped", "source": "probe"}
    for event in [*flood[:10_000], note, *flood[10_000:]]:
        sampler.post_event(event)
    sampler.stop()
    sampler.run_inline()  # stopped at once: hands out what is pending, then END
    events = [event for batch in iter(lambda: screen.get(timeout=0), END) for event in batch.events]
    assert events == [*flood[:10_000], note, *flood[10_000:]]
    assert screen.dropped == 0


def test_what_a_queue_is_offered_after_its_reader_left_is_no_drop():
    """A reader that left (a recording toggled, a failed writer) is said where it happens; the batches offered
    after it are not counted as a queue that fell behind (they were, and every toggle warned of drops)."""
    from collectors.stream import Batch, LossyQueue, PolledQueue

    for frames in (LossyQueue(1), PolledQueue(1, 0.25)):
        frames.offer(Batch({"ts": 1}))
        frames.offer(Batch({"ts": 2}, ({"kind": "note"},)))  # full: the reader fell behind
        assert (frames.fell_behind, frames.dropped_events) == (1, 1)
        frames.abandon()
        frames.offer(Batch({"ts": 3}, ({"kind": "note"},)))
        frames.close()
        assert (frames.fell_behind, frames.dropped_events) == (1, 1)
