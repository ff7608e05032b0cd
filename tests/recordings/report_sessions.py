"""Sessions for the report and compare tests: recorded in-process from the simulated source on a virtual
clock (so collapses come at known times), with notes, tags, spans and meta keys added with known values."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from collectors.clock import VirtualClock
from collectors.sampler import Sampler
from collectors.schema import session_columns
from collectors.signals import SignalPipeline
from collectors.simulated import SimulatedCollector
from collectors.spans import SPAN_COLUMNS
from collectors.stream import LossyQueue
from collectors.timeutil import iso_from_us
from recordings.events import EVENTS, append_event
from recordings.recorder import Recorder, RecorderOptions
from recordings.segments import write_parquet_atomic
from recordings.session import create_session_dir, read_meta, write_json_atomic
from recordings.spans import SPANS_PARQUET, spans_table, summarize_rows

T0_US = 1_800_000_000_000_000


def record(root: Path, seconds: float = 400.0, hz: float = 2.0, gpus: int = 1, host: str = "testhost",
           tier: str = "tier_a", start: datetime = datetime(2027, 1, 15, 8, 0), **meta_extra: Any) -> Path:
    """A complete session; the simulated loop puts one collapse per GPU at about 315-375 s."""
    clock = VirtualClock(start_wall_us=int(start.timestamp() * 1e6))
    indices = list(range(gpus))
    signals = SignalPipeline(indices)
    sampler = Sampler([SimulatedCollector(gpu_count=gpus, seed=3)], hz, clock, seconds, signals)
    session = create_session_dir(root, start, host)
    meta = {"format": "rigscope-session/1", "session_id": session.name, "status": "recording",
            "session_start": iso_from_us(clock.wall_us()), "model_name": "llama-test", "training_mode": "finetune",
            "notes": "report test", "host": {"hostname": host, "hardware_tier": tier, "cpu_model": "Test CPU",
                                             "cpu_count_logical": 8, "memory_total_bytes": 16 * 2**30},
            "gpus": [{"index": i, "name": "Test GPU", "power_limit_w": 700} for i in indices],
            "monitoring": {"sample_hz": hz, "source": "simulated"},
            "recorder": {"pid": os.getpid(), "hostname": "elsewhere", "argv": ["record", "--hz", str(hz)]},
            **meta_extra}
    recorder = Recorder(session, meta, session_columns(indices), sampler.attach(LossyQueue(10_000)),
                        RecorderOptions(frozenset({"parquet"})), summary=signals.summary)
    recorder.start()
    sampler.run_inline()
    recorder.join(timeout=60)
    return session


def at(session: Path, seconds: float) -> str:
    """ISO time `seconds` after the session's start."""
    from collectors.timeutil import us_from_iso

    return iso_from_us(us_from_iso(read_meta(session)["session_start"]) + int(seconds * 1e6))


def add_note(session: Path, seconds: float, text: str) -> None:
    append_event(session / EVENTS, {"ts": at(session, seconds), "kind": "note", "text": text, "source": "cli"})


def add_spans(session: Path, rows: list[dict[str, Any]]) -> None:
    """spans.parquet and summary.spans from finished span rows."""
    write_parquet_atomic(spans_table(rows), session / SPANS_PARQUET)
    meta = read_meta(session)
    meta["summary"]["spans"] = summarize_rows(rows)
    write_json_atomic(session / "meta.json", meta)


def span(name: str, duration: float, success: bool = True, **extra: Any) -> dict[str, Any]:
    return {**dict.fromkeys(SPAN_COLUMNS), "request_id": f"{name}-{duration}", "name": name,
            "total_duration_s": duration, "success": success,
            "start_time": "2027-01-15T08:01:00Z", "end_time": "2027-01-15T08:01:01Z", **extra}


def set_meta(session: Path, **values: Any) -> None:
    meta = read_meta(session)
    meta.update(values)
    (session / "meta.json").write_text(json.dumps(meta))
