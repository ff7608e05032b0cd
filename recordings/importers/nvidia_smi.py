"""`nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]` logs and `nvidia-smi dmon -o DT` output.

Each becomes a session with GPU columns only (the CPU's are null: nothing measured
them). One tick is one round over the GPUs: a query row whose GPU was already seen
starts the next tick; dmon prints one block per interval. `[N/A]`, `[Not Supported]`
and `-` are null; units (`%`, `MiB`, `W`, `MHz`) are stripped.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from recordings.errors import InputError
from recordings.importers.table import parse_times
from recordings.importers.writer import Imported

MIB = 2**20
# --query-gpu field -> (session column suffix, scale)
QUERY_FIELDS: dict[str, tuple[str, float]] = {
    "utilization.gpu": ("util_pct", 1), "utilization.memory": ("mem_util_pct", 1),
    "temperature.gpu": ("temp_c", 1), "power.draw": ("power_w", 1), "power.draw.instant": ("power_w", 1),
    "power.limit": ("power_limit_w", 1), "enforced.power.limit": ("power_limit_w", 1),
    "memory.used": ("mem_used_bytes", MIB), "memory.total": ("mem_total_bytes", MIB),
    "clocks.sm": ("clock_sm_mhz", 1), "clocks.current.sm": ("clock_sm_mhz", 1),
    "clocks.mem": ("clock_mem_mhz", 1), "clocks.current.memory": ("clock_mem_mhz", 1),
    "fan.speed": ("fan_pct", 1), "pstate": ("pstate", 1),
    "clocks_throttle_reasons.active": ("throttle_reasons", 1), "clocks_event_reasons.active": ("throttle_reasons", 1),
}
QUERY_REQUIRED = ("timestamp", "utilization.gpu")
DMON_FIELDS: dict[str, tuple[str, float]] = {
    "pwr": ("power_w", 1), "gtemp": ("temp_c", 1), "sm": ("util_pct", 1), "mem": ("mem_util_pct", 1),
    "mclk": ("clock_mem_mhz", 1), "pclk": ("clock_sm_mhz", 1), "fb": ("mem_used_bytes", MIB),
}
_UNIT = re.compile(r"\s*\[[^\]]*\]$")
_NULLS = {"", "-", "[N/A]", "N/A", "[Not Supported]", "Not Supported", "[Unknown Error]"}
_SMI_TIME = re.compile(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}")


def is_dmon(first: str) -> bool:
    words = first.lstrip("#").split()
    return first.startswith("#") and "gpu" in words and any(w in DMON_FIELDS for w in words)


def is_headerless_query(first: str) -> bool:
    return bool(_SMI_TIME.match(first.strip()))


def is_query_header(header: list[str]) -> bool:
    names = {_UNIT.sub("", h) for h in header}
    return "timestamp" in names and any(n in QUERY_FIELDS for n in names)


def _number(text: str, field: str, source: Path) -> float | None:
    text = text.strip()
    if text in _NULLS:
        return None
    if field == "pstate":
        return float(text[1:]) if text[:1] == "P" and text[1:].isdigit() else None
    if text.lower().startswith("0x"):
        return float(int(text, 16))
    value = text.split()[0]
    try:
        return float(value)
    except ValueError:
        raise InputError(f"{source}: {field} {text!r} is not a number") from None


def _wide(ticks: list[tuple[int, dict[str, Any]]], source: Path) -> pl.DataFrame:
    if not ticks:
        raise InputError(f"{source}: no GPU rows")
    first = ticks[0][0]
    rows = [{"ts": ts, "elapsed_s": (ts - first) / 1e6, **values} for ts, values in ticks]
    frame = pl.DataFrame(rows, infer_schema_length=None)
    return frame.with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))


def _item(source: Path, layout: str, ticks: list[tuple[int, dict[str, Any]]], names: dict[int, str]) -> Imported:
    frame = _wide(ticks, source)
    if not frame["ts"].is_sorted():
        frame = frame.sort("ts")
    indices = sorted({int(c[3:].split("_")[0]) for c in frame.columns if c.startswith("gpu")})
    gpus = [{"index": i, "name": names.get(i)} for i in indices]
    return Imported(source=source, layout=layout, samples=frame, gpus=gpus, host={"hostname": None})


def read_query(path: Path, fields: list[str] | None) -> Imported:
    """A --query-gpu log; `fields` names the columns of a file without a header."""
    try:
        lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None
    if fields is None:
        if is_headerless_query(lines[0]):
            raise InputError(f"{path}: an nvidia-smi CSV without a header: give the fields it was queried with, "
                             "e.g. --fields timestamp,index,utilization.gpu,temperature.gpu,power.draw")
        fields, lines = [_UNIT.sub("", h.strip()) for h in lines[0].split(",")], lines[1:]
    missing = [name for name in QUERY_REQUIRED if name not in fields]
    if missing:
        raise InputError(f"{path}: an nvidia-smi query without {', '.join(missing)} (it needs {', '.join(QUERY_REQUIRED)})")
    ticks: list[tuple[int, dict[str, Any]]] = []
    seen: set[int] = set()
    names: dict[int, str] = {}
    order: dict[str, int] = {}
    cells = [[c.strip() for c in line.split(",")] for line in lines]
    times = parse_times(pl.Series("timestamp", [c[fields.index("timestamp")] if len(c) == len(fields) else None
                                                 for c in cells])).dt.epoch("us").to_list()
    for number, (row, ts) in enumerate(zip(cells, times), 2):
        if len(row) != len(fields) or ts is None:
            raise InputError(f"{path}:{number}: not a row of {len(fields)} fields with a timestamp (a cut line?)")
        record = dict(zip(fields, row))
        key = record.get("index") or record.get("pci.bus_id") or record.get("uuid") or "0"
        index = int(key) if key.isdigit() else order.setdefault(key, len(order))
        if "name" in record:
            names[index] = record["name"]
        if not ticks or index in seen:
            ticks.append((ts, {}))
            seen = set()
        seen.add(index)
        values = ticks[-1][1]
        for name, (suffix, scale) in QUERY_FIELDS.items():
            if name in record:
                value = _number(record[name], name, path)
                values[f"gpu{index}_{suffix}"] = value * scale if value is not None else None
    return _item(path, "nvidia-smi query", ticks, names)


def read_dmon(path: Path) -> Imported:
    """`nvidia-smi dmon` output with its Date and Time columns (`-o DT`)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None
    header = lines[0].lstrip("#").split()
    if header[:2] != ["Date", "Time"]:
        raise InputError(f"{path}: nvidia-smi dmon output without its Date and Time columns "
                         "(run it as nvidia-smi dmon -o DT); it needs Date, Time, gpu")
    ticks: list[tuple[int, dict[str, Any]]] = []
    stamp = None
    for number, line in enumerate(lines[1:], 2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = line.split()
        if len(cells) != len(header):
            raise InputError(f"{path}:{number}: {len(cells)} fields, the header has {len(header)} (a cut line?)")
        record = dict(zip(header, cells))
        try:
            moment = datetime.strptime(f"{record['Date']} {record['Time']}", "%Y%m%d %H:%M:%S").replace(tzinfo=UTC)
        except ValueError:
            moment = None
        if moment is None or not record["gpu"].isdigit():
            raise InputError(f"{path}:{number}: no date, time and GPU index in {line.strip()!r}")
        if stamp != (record["Date"], record["Time"]):
            stamp = (record["Date"], record["Time"])
            ticks.append((int(moment.timestamp()) * 1_000_000, {}))
        for name, (suffix, scale) in DMON_FIELDS.items():
            if name in record:
                value = _number(record[name], name, path)
                ticks[-1][1][f"gpu{int(record['gpu'])}_{suffix}"] = value * scale if value is not None else None
    return _item(path, "nvidia-smi dmon", ticks, {})

