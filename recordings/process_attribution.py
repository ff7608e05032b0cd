"""Which processes held a GPU while it collapsed: from processes.parquet, for reports.

`processes_during(session, start_us, end_us, device)` lists the processes seen
on that GPU from the last slow tick at or before the start to the end (a short
collapse may fall between two ticks), one entry per pid with its largest GPU
memory and mean SM %.  `collapse_section(session)` is the markdown section
"Processes during collapses" for every collapse event of the session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from collectors.event_kinds import EventKind
from collectors.processes import NOT_VISIBLE
from recordings.events import EVENTS, read_events
from recordings.processes import PROCESSES_DIR, PROCESSES_PARQUET, read_processes
from recordings.reader import lazy_chunks, scan_samples

TITLE = "## Processes during collapses"
CHUNK_ROWS = 262_144  # samples read at a time: two columns, 4 MB


def processes_during(session: Path, start_us: int, end_us: int, device: str,
                     table: pl.DataFrame | None = None) -> list[dict[str, Any]]:
    """The processes on `device` (``gpuN``) between `start_us` and `end_us`, most GPU memory first."""
    if not device.startswith("gpu") or not device[3:].isdigit():
        return []
    table = read_processes(session) if table is None else table
    rows = table.with_columns(pl.col("ts").dt.epoch("us").alias("us")).filter(pl.col("gpu") == int(device[3:]))
    before = rows.filter(pl.col("us") <= start_us).get_column("us").max()
    first = before if before is not None else start_us
    held = rows.filter((pl.col("us") >= first) & (pl.col("us") <= end_us))
    if held.is_empty():
        return []
    grouped = held.group_by("pid", maintain_order=True).agg(
        pl.col("user").drop_nulls().last(), pl.col("command").drop_nulls().last(),
        pl.col("container").drop_nulls().last(), pl.col("visible").any(), pl.col("simulated").any(),
        pl.col("gpu_mem_bytes").max().alias("max_gpu_mem_bytes"), pl.col("sm_pct").mean().alias("mean_sm_pct"),
        pl.len().alias("ticks"))
    return grouped.sort(["max_gpu_mem_bytes", "pid"], descending=[True, False], nulls_last=True).to_dicts()


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
        lines.append(f"### {device}, {start:.0f}–{end:.0f} s (min RLE {_num(event.get('min_rle'))})")
        start_us, end_us = ts_at[start], ts_at[end]
        held = [] if start_us is None or end_us is None else processes_during(session, start_us, end_us, device, table)
        if not held:
            lines += ["", "No process was listed on this GPU during it.", ""]
            continue
        lines += ["", "| pid | user | container | GPU memory (max) | SM % (mean) | command |", "|---|---|---|---|---|---|"]
        for p in held:
            command = (p["command"] or ("" if p["visible"] else NOT_VISIBLE)).replace("|", "\\|")
            mark = " (simulated)" if p["simulated"] else ""
            lines.append(f"| {p['pid']}{mark} | {p['user'] or '—'} | {p['container'] or '—'} | "
                         f"{_gib(p['max_gpu_mem_bytes'])} | {_num(p['mean_sm_pct'])} | {command} |")
        lines.append("")
    return "\n".join(lines)


def _num(value: Any) -> str:
    return "—" if value is None else f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"


def main_gpu_user(session: Path) -> str | None:
    """The user whose processes held the most GPU memory over the session (memory summed over slow ticks).

    None when the session has no process rows or no process on a GPU had a user visible from here."""
    if not (session / PROCESSES_PARQUET).is_file() and not (session / PROCESSES_DIR).is_dir():
        return None
    held = (read_processes(session).filter(pl.col("user").is_not_null() & pl.col("gpu").is_not_null())
            .group_by("user").agg(pl.col("gpu_mem_bytes").sum().alias("held"))
            .sort(["held", "user"], descending=[True, False], nulls_last=True))
    return None if held.is_empty() else str(held.item(0, "user"))
