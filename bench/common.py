"""Shared helpers of the benchmarks: machine facts, statistics, a plain-text table, JSON results.

Every result file (`bench/results/<name>.json`) carries the machine it ran on,
the versions of rigscope and its libraries, and the date, next to the figures.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from collectors.hostinfo import cpu_model  # noqa: E402

PACKAGES = ("rigscope", "psutil", "polars", "textual")


def versions() -> dict[str, str | None]:
    """Installed versions of rigscope and its main libraries (None when absent); no import needed."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def machine() -> dict[str, Any]:
    """CPU model, core counts, memory and OS of this machine."""
    return {
        "cpu_model": cpu_model(),
        "cores_logical": psutil.cpu_count(logical=True),
        "cores_physical": psutil.cpu_count(logical=False),
        "memory_bytes": psutil.virtual_memory().total,
        "os": platform.platform(),
        "arch": platform.machine(),
        "python_implementation": platform.python_implementation(),
    }


def today() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile (as numpy's default), `pct` in 0..100."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * pct / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _cell(value: Any, digits: int) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return "nan" if value != value else f"{value:,.{digits}f}"
    return str(value)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], digits: int = 2, title: str | None = None) -> None:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[_cell(v, digits) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths)))

    if title:
        print(f"\n{title}")
    print(line(headers))
    print("-" * (sum(widths) + 2 * (len(widths) - 1)))
    for row in cells:
        print(line(row))


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("pass" if ok else "FAIL")


def write_result(name: str, data: dict[str, Any]) -> Path:
    """Write `bench/results/<name>.json` with the machine, versions and date next to `data`."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {"benchmark": name, "date": today(), "machine": machine(), "versions": versions(),
                "load_avg_at_end": list(os.getloadavg()), **data}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"\nwrote {path.relative_to(ROOT)}")
    return path


def rigscope_command(*args: str) -> list[str]:
    """The command line that runs rigscope from this interpreter."""
    return [sys.executable, "-m", "rigscope", *args]


@contextmanager
def children(argv: Sequence[str], count: int, settle_s: float = 0.0) -> Iterator[list[int]]:
    """`count` copies of `argv` for the duration of the block (pids yielded), killed after."""
    procs = [subprocess.Popen(list(argv)) for _ in range(count)]
    try:
        time.sleep(settle_s)
        yield [p.pid for p in procs]
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()
