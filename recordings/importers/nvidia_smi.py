"""`nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]` logs and `nvidia-smi dmon -o DT` output.

Each becomes a session with GPU columns only (the CPU's are null: nothing measured
them). One tick is one round over the GPUs: a query row whose GPU was already seen
starts the next tick; dmon prints one block per interval. GPUs are told apart by
`index`, `pci.bus_id`, `uuid` or `gpu` (see `_key_column`). Bracketed placeholders
(`[N/A]`, `[Not Supported]`, `[GPU is lost]`, `[Insufficient Permissions]`, ...) and `-`
are null, the placeholders counted per column; units (`%`, `MiB`, `W`, `MHz`) are
stripped. Rows that do not read are skipped and counted (`Imported.skip`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import polars as pl

from recordings.errors import InputError
from recordings.importers.table import text_lines
from recordings.importers.times import TimeOptions, parse_times
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
DMON_FIELDS: dict[str, tuple[str, float]] = {
    "pwr": ("power_w", 1), "gtemp": ("temp_c", 1), "sm": ("util_pct", 1), "mem": ("mem_util_pct", 1),
    "mclk": ("clock_mem_mhz", 1), "pclk": ("clock_sm_mhz", 1), "fb": ("mem_used_bytes", MIB),
}
_UNIT = re.compile(r"\s*\[[^\]]*\]$")
_PLACEHOLDER = re.compile(r"^\[[^\]]*\]$|^N/A$|^Not Supported$")  # [N/A], [GPU is lost], [Insufficient Permissions]
_SMI_TIME = re.compile(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}")
# Columns that tell the GPUs of one round apart, in the order they are trusted.
KEYS = ("index", "pci.bus_id", "uuid", "gpu")
INFO_FIELDS = {"name": "name", "pci.bus_id": "pci_bus_id", "uuid": "uuid", "driver_version": "driver_version"}


class BadCell(ValueError):
    """A cell that is neither a number nor a placeholder: its row is skipped."""


def is_dmon(first: str) -> bool:
    words = first.lstrip("#").split()
    return first.startswith("#") and "gpu" in words and any(w in DMON_FIELDS for w in words)


def is_headerless_query(first: str) -> bool:
    return bool(_SMI_TIME.match(first.strip()))


def field_name(text: str) -> str:
    """A --query-gpu field without its unit: `utilization.gpu [%]` -> `utilization.gpu`."""
    return _UNIT.sub("", text.strip())


def is_query_header(header: list[str]) -> bool:
    names = {field_name(h) for h in header}
    return "timestamp" in names and any(n in QUERY_FIELDS for n in names)


def _number(text: str, field: str, item: Imported) -> float | None:
    if text in ("", "-"):
        return None
    if _PLACEHOLDER.match(text):
        item.placeholders[field] = item.placeholders.get(field, 0) + 1
        return None
    if field == "pstate":
        return float(text[1:]) if text[:1] == "P" and text[1:].isdigit() else None
    try:
        if text.lower().startswith("0x"):
            return float(int(text, 16))
        return float(text.split()[0])
    except ValueError:
        raise BadCell(field) from None


def _wide(ticks: list[tuple[int, dict[str, Any]]], source: Path) -> pl.DataFrame:
    if not ticks:
        raise InputError(f"{source}: no GPU rows")
    first = ticks[0][0]
    rows = [{"ts": ts, "elapsed_s": (ts - first) / 1e6, **values} for ts, values in ticks]
    frame = pl.DataFrame(rows, infer_schema_length=None)
    return frame.with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))


def _finish(item: Imported, ticks: list[tuple[int, dict[str, Any]]], gpus: dict[int, dict[str, Any]]) -> Imported:
    frame = _wide(ticks, item.source)
    item.samples = frame if frame["ts"].is_sorted() else frame.sort("ts")
    indices = sorted({int(c[3:].split("_")[0]) for c in frame.columns if c.startswith("gpu")})
    item.gpus = [{"index": i, "name": None, **gpus.get(i, {})} for i in indices]
    item.host = {"hostname": None}
    return item


def _key_column(fields: list[str], rows: list[tuple[int, int, list[str]]], path: Path) -> str | None:
    """The first of KEYS whose values differ between the rows of one time; None for a one-GPU log.

    Several rows at one time without such a column are several GPUs that cannot be told apart."""
    for key in KEYS:
        if key in fields:
            at = fields.index(key)
            pairs = {(ts, row[at]) for _, ts, row in rows}
            if len(pairs) == len(rows):
                return key
    times = [ts for _, ts, _ in rows]
    if len(set(times)) < len(times):
        raise InputError(f"{path}: several rows at one time and no column that tells the GPUs apart: "
                         "add index (or pci.bus_id) to the --query-gpu fields, e.g. --query-gpu=timestamp,index,...")
    return None


def _gpu_numbers(key: str | None, values: list[str]) -> dict[str, int]:
    """GPU number of each key value: an index as it is; bus ids in bus order, as nvidia-smi numbers them;
    other keys in order of appearance."""
    if key in ("index", "gpu") and all(v.isdigit() for v in values):
        return {v: int(v) for v in values}
    ordered = sorted(set(values), key=str.lower) if key == "pci.bus_id" else list(dict.fromkeys(values))
    return {v: i for i, v in enumerate(ordered)}


def read_query(path: Path, fields: list[str] | None, times: TimeOptions) -> Imported:
    """A --query-gpu log; `fields` names the columns of a file without a header (with or without units)."""
    item = Imported(source=path, layout="nvidia-smi query")
    lines = ((n, line) for n, line in text_lines(path) if line.strip())
    if fields is None:
        number, first = next(lines, (1, ""))
        if is_headerless_query(first):
            raise InputError(f"{path}: an nvidia-smi CSV without a header: give the fields it was queried with, "
                             "e.g. --fields timestamp,index,utilization.gpu,temperature.gpu,power.draw")
        fields = [field_name(h) for h in first.split(",")]
    else:
        fields = [field_name(f) for f in fields]
    if "timestamp" not in fields or not any(f in QUERY_FIELDS for f in fields):
        raise InputError(f"{path}: an nvidia-smi query needs timestamp and one of {', '.join(QUERY_FIELDS)}")
    cells: list[tuple[int, list[str]]] = []
    for number, line in lines:
        row = [c.strip() for c in line.split(",")]
        if [field_name(c) for c in row] == fields:
            item.skip("a repeated header line", number)
        elif len(row) != len(fields):
            item.skip(f"not {len(fields)} fields (a torn or foreign line)", number)
        else:
            cells.append((number, row))
    stamp = fields.index("timestamp")
    moments = parse_times(pl.Series("timestamp", [row[stamp] for _, row in cells], pl.String), path, times)
    rows = []
    for (number, row), ts in zip(cells, moments.dt.epoch("us").to_list()):
        if ts is None:
            item.skip("an unreadable time", number)
        else:
            rows.append((number, ts, row))
    if not rows:
        raise InputError(f"{path}: no readable row ({'; '.join(item.accounting()) or 'no rows'})")
    key = _key_column(fields, rows, path)
    at = fields.index(key) if key else None
    numbers = _gpu_numbers(key, [row[at] for _, _, row in rows] if at is not None else [])
    ticks: list[tuple[int, dict[str, Any]]] = []
    seen: set[int] = set()
    gpus: dict[int, dict[str, Any]] = {}
    for number, ts, row in rows:
        record = dict(zip(fields, row))
        index = numbers[row[at]] if at is not None else 0
        try:
            values = {f"gpu{index}_{suffix}": None if (v := _number(record[name], name, item)) is None else v * scale
                      for name, (suffix, scale) in QUERY_FIELDS.items() if name in record}
        except BadCell as bad:
            item.skip(f"{bad} not a number", number)
            continue
        info = gpus.setdefault(index, {})
        info.update({k: record[f] for f, k in INFO_FIELDS.items() if record.get(f) and not _PLACEHOLDER.match(record[f])})
        if values.get(f"gpu{index}_mem_total_bytes") is not None:
            info["memory_total_bytes"] = int(values[f"gpu{index}_mem_total_bytes"])
        if not ticks or index in seen:
            ticks.append((ts, {}))
            seen = set()
        seen.add(index)
        ticks[-1][1].update(values)
    return _finish(item, ticks, gpus)


def read_dmon(path: Path, times: TimeOptions) -> Imported:
    """`nvidia-smi dmon` output with its Date and Time columns (`-o DT`)."""
    item = Imported(source=path, layout="nvidia-smi dmon")
    lines = text_lines(path)
    _, first = next(lines, (1, ""))
    header = first.lstrip("#").split()
    if header[:2] != ["Date", "Time"]:
        raise InputError(f"{path}: nvidia-smi dmon output without its Date and Time columns "
                         "(run it as nvidia-smi dmon -o DT); it needs Date, Time, gpu")
    cells: list[tuple[int, dict[str, str]]] = []
    for number, line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        row = line.split()
        if len(row) != len(header):
            item.skip(f"not {len(header)} fields (a torn or foreign line)", number)
        elif not row[header.index("gpu")].isdigit():
            item.skip("no GPU index", number)
        else:
            cells.append((number, dict(zip(header, row))))
    stamps = pl.Series("time", [f"{r['Date']} {r['Time']}" for _, r in cells], pl.String)
    ticks: list[tuple[int, dict[str, Any]]] = []
    last = None
    for (number, record), ts in zip(cells, parse_times(stamps, path, times).dt.epoch("us").to_list()):
        if ts is None:
            item.skip("an unreadable time", number)
            continue
        gpu = int(record["gpu"])
        try:
            values = {f"gpu{gpu}_{suffix}": None if (v := _number(record[name], name, item)) is None else v * scale
                      for name, (suffix, scale) in DMON_FIELDS.items() if name in record}
        except BadCell as bad:
            item.skip(f"{bad} not a number", number)
            continue
        if ts != last:
            ticks.append((ts, {}))
            last = ts
        ticks[-1][1].update(values)
    if not ticks:
        raise InputError(f"{path}: no readable row ({'; '.join(item.accounting()) or 'no rows'})")
    return _finish(item, ticks, {})
