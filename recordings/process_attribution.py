"""Which processes held a GPU while it collapsed: from processes.parquet, for reports.

`processes_during(session, start_us, end_us, device)` lists the processes seen
on that GPU from the last slow tick at or before the start to the end (a short
collapse may fall between two ticks), one entry per pid with its largest GPU
memory and mean SM %; the report's section on them is
recordings/report/sections_processes.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from recordings.processes import PROCESSES_DIR, PROCESSES_PARQUET, read_processes


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


def main_gpu_user(session: Path) -> str | None:
    """The user whose processes held the most GPU memory over the session (memory summed over slow ticks).

    None when the session has no process rows or no process on a GPU had a user visible from here."""
    if not (session / PROCESSES_PARQUET).is_file() and not (session / PROCESSES_DIR).is_dir():
        return None
    held = (read_processes(session).filter(pl.col("user").is_not_null() & pl.col("gpu").is_not_null())
            .group_by("user").agg(pl.col("gpu_mem_bytes").sum().alias("held"))
            .sort(["held", "user"], descending=[True, False], nulls_last=True))
    return None if held.is_empty() else str(held.item(0, "user"))
