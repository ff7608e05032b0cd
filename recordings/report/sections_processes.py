"""The report section naming the processes that held each GPU during each collapse event: for every
collapse event of the session, the processes `processes_during` finds on its GPU (or why none are known)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import polars as pl

from collectors.event_kinds import EventKind
from collectors.processes import NOT_VISIBLE
from recordings.events import EVENTS, read_events
from recordings.process_attribution import processes_during
from recordings.processes import PROCESSES_DIR, PROCESSES_PARQUET, read_processes
from recordings.reader import lazy_chunks, scan_samples
from recordings.report.data import SessionData
from recordings.report.markdown import escape

TITLE = "## Processes during collapses"
CHUNK_ROWS = 262_144  # samples read at a time: two columns, 4 MB


def processes(data: SessionData) -> str | None:
    """Left out when the session had no collapse; says so when it was recorded without the process tier."""
    if not data.events_of(EventKind.COLLAPSE_END):
        return None
    return collapse_section(data.path)


def _collapses(session: Path) -> list[dict[str, Any]]:
    """Finished collapse events (`collapse_end` has start and end, in seconds of session time)."""
    return [e for e in read_events(session / EVENTS, warn=False)
            if e.get("kind") == EventKind.COLLAPSE_END and isinstance(e.get("start"), (int, float))
            and isinstance(e.get("end"), (int, float))]


def _ts_at(session: Path, times: list[float]) -> dict[float, int | None]:
    """µs of the first sample at or after each of `times` (seconds of elapsed_s; the last sample when past
    the end), in one pass over two columns of the samples, a chunk at a time."""
    pending = sorted(set(times))
    found: dict[float, int | None] = dict.fromkeys(pending)
    samples = scan_samples(session).select(pl.col("ts").dt.epoch("us").alias("us"), pl.col("elapsed_s"))
    last: int | None = None
    for chunk in lazy_chunks(samples, CHUNK_ROWS):
        if chunk.is_empty():
            continue
        last = int(chunk.item(-1, "us"))
        inside = [t for t in pending if t <= chunk.item(-1, "elapsed_s")]
        if inside:
            positions = chunk["elapsed_s"].search_sorted(pl.Series(inside, dtype=pl.Float64), side="left")
            found.update(zip(inside, (int(chunk.item(i, "us")) for i in positions)))
            pending = pending[len(inside):]
    found.update(dict.fromkeys(pending, last))
    return found


def _gib(value: Any) -> str:
    return "—" if value is None else f"{value / 2**30:.1f} GiB"


def collapse_section(session: Path) -> str:
    """Markdown: per collapse event, the processes that held the GPU (or why none are known)."""
    lines = [TITLE, ""]
    collapses = _collapses(session)
    if not collapses:
        return "\n".join([*lines, "No collapse event in this session.", ""])
    if not (session / PROCESSES_PARQUET).is_file() and not (session / PROCESSES_DIR).is_dir():
        return "\n".join([*lines, "This session has no process rows (recorded without the process tier).", ""])
    table = read_processes(session)
    ts_at = _ts_at(session, [float(e[key]) for e in collapses for key in ("start", "end")])
    for event in collapses:
        device, start, end = str(event.get("device")), float(event["start"]), float(event["end"])
        lines.append(f"### {escape(device)}, {start:.0f}–{end:.0f} s (min RLE {_num(event.get('min_rle'))})")
        start_us, end_us = ts_at[start], ts_at[end]
        held = [] if start_us is None or end_us is None else processes_during(session, start_us, end_us, device, table)
        if not held:
            lines += ["", "No process was listed on this GPU during it.", ""]
            continue
        lines += ["", "| pid | user | container | GPU memory (max) | SM % (mean) | command |", "|---|---|---|---|---|---|"]
        for p in held:
            command = escape(p["command"] or ("" if p["visible"] else NOT_VISIBLE))
            mark = " (simulated)" if p["simulated"] else ""
            lines.append(f"| {p['pid']}{mark} | {escape(p['user'] or '—')} | {escape(p['container'] or '—')} | "
                         f"{_gib(p['max_gpu_mem_bytes'])} | {_num(p['mean_sm_pct'])} | {command} |")
        lines.append("")
    return "\n".join(lines)


def _num(value: Any) -> str:
    """A figure of a table; "—" when unknown, or not a finite number (an events.jsonl another tool wrote)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return "—"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"
