"""What a process row is: its columns, an empty row, and the latest rows as one immutable snapshot.

Plain data with no reader behind it, so storage, replay and the screen can name
process rows without importing what lists processes (psutil, NVML).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collectors.schema import ColumnTypes

Row = dict[str, Any]

PROCESS_COLUMNS: ColumnTypes = {
    "ts": "datetime", "gpu": "i64", "pid": "i64", "kind": "str", "visible": "bool", "user": "str",
    "command": "str", "container": "str", "gpu_mem_bytes": "i64", "sm_pct": "f32", "mem_pct": "f32",
    "cpu_pct": "f32", "rss_bytes": "i64", "running_s": "f64", "simulated": "bool",
}


def empty_row(ts_us: int, pid: int, kind: str, gpu: int | None = None) -> Row:
    row: Row = dict.fromkeys(PROCESS_COLUMNS)
    row.update(ts=ts_us, pid=pid, kind=kind, gpu=gpu, visible=False, simulated=False)
    return row


@dataclass(frozen=True)
class ProcessSnapshot:
    version: int  # moves with every slow tick
    ts: int | None  # µs of the tick's frame; None before the first
    rows: tuple[Row, ...]
