"""The JSON bodies of `/metrics/summary` and `/metrics/export`, built from the exporter's snapshot.

Both keep the key names of the TTS monitoring system that rigscope replaces, so
its dashboards and scripts keep working: the summary's `total_requests`,
`successful`, `failed`, `success_rate`, `avg_duration_s`, `avg_rtf`,
`avg_peak_memory_mb`, `hardware_tier`, `device_type`; the export's
`csv_files`, `parquet_files`, `meta` and `analysis`.  A request here is a
finished span.  `success_rate` is a fraction (0 to 1), as `summary.spans` in
meta.json has it; it and the averages are null while there is nothing to count.
Every span figure (counts, means, shortest and longest duration, highest peak
memory) comes from the snapshot's span statistics (`collectors.span_stats`), the
same that give `summary.spans` in meta.json and the `/metrics` span families.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from collectors.schema import column, gpu_column, gpu_prefix
from collectors.timeutil import iso_from_us
from collectors.values import finite as finite_number
from recordings.events import EVENTS
from recordings.recorder import SAMPLES_CSV
from recordings.segments import SAMPLES_DIR, SAMPLES_PARQUET
from recordings.session import META
from recordings.spans import SPANS_CSV, SPANS_PARQUET
from rigscope.serve.feed import THROTTLE_CAUSES, ExportSnapshot
from rigscope.serve.prometheus import ExportLabels

MIB = 1 << 20


def finite(value: Any) -> Any:
    """`value` with NaN and infinities turned into null, so the body is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def _number(frame: Any, column: str) -> float | None:
    return finite_number(frame.get(column))


def summary(snap: ExportSnapshot, labels: ExportLabels) -> dict[str, Any]:
    spans, frame = snap.span_totals.figures(), snap.frame
    collapses = {device: snap.collapse_events.get(device, 0) for device in labels.devices}
    ts = frame.get("ts")
    return finite({
        "total_requests": spans["total"],
        "successful": spans["successful"],
        "failed": spans["failed"],
        "success_rate": spans["success_rate"],
        "avg_duration_s": spans["avg_duration_s"],
        "avg_rtf": spans["avg_rtf"],
        "avg_peak_memory_mb": spans["avg_peak_memory_mb"],
        "hardware_tier": labels.info.get("hardware_tier"),
        "device_type": labels.info.get("device_type"),
        "session_id": labels.session or None,
        "host": labels.host,
        "collapses": collapses,
        "cpu_collapses": collapses.get("cpu", 0),
        "gpu_collapses": sum(count for device, count in collapses.items() if device != "cpu"),
        "collapse_active": [device for device in labels.devices if frame.get(column(device, "collapse"))],
        "workload_state": frame.get("workload_state"),
        "workload_source": frame.get("workload_source"),
        "samples": snap.samples,
        "last_sample": iso_from_us(ts) if isinstance(ts, int) else None,
        # per device: energy so far and its method (counter, integrated_power, rapl, none)
        "energy": {device: dict(entry) for device, entry in snap.energy.items()},
    })


def session_files(session: Path | None) -> dict[str, Any]:
    """Paths of the session's files as they are now: closed Parquet parts while recording, then samples.parquet."""
    if session is None:
        return {"session_dir": None, "csv_files": [], "parquet_files": [], "meta": None, "events": None}
    root = session.resolve()
    compacted = root / SAMPLES_PARQUET
    parquet = [compacted] if compacted.is_file() else sorted((root / SAMPLES_DIR).glob("part-*.parquet"))
    parquet += [p for p in (root / SPANS_PARQUET,) if p.is_file()]
    csv = [p for p in (root / SAMPLES_CSV, root / SPANS_CSV) if p.is_file()]
    events = root / EVENTS
    return {
        "session_dir": str(root),
        "csv_files": [str(p) for p in csv],
        "parquet_files": [str(p) for p in parquet],
        "meta": str(root / META),
        "events": str(events) if events.is_file() else None,
    }


def analysis(snap: ExportSnapshot, labels: ExportLabels) -> dict[str, Any]:
    """The TTS system's `analysis` object: tier, device type, runs, memory, performance and thermal blocks.

    A run is a finished span. `performance` holds only request figures, `memory` the requests' peaks
    and the memory in use at the latest sample, `thermal` the session's peaks and throttling
    (docs/prometheus.md has the table of keys)."""
    spans, frame = snap.span_totals, snap.frame
    figures = spans.figures()
    gpu_memory = {gpu_prefix(g.index): _mb(_number(frame, gpu_column(g.index, "mem_used_bytes"))) for g in labels.gpus}
    gpu_total = {gpu_prefix(g.index): _mb(_number(frame, gpu_column(g.index, "mem_total_bytes"))) for g in labels.gpus}
    devices = {}
    for device in labels.devices:
        max_temp, max_power = snap.peaks.get(device, (None, None))
        entry: dict[str, Any] = {
            "temperature_c": _number(frame, column(device, "temp_c")),
            "max_temperature_c": max_temp,
            "temperature_limit_c": _number(frame, column(device, "temp_limit_c")),
            "max_power_w": max_power,
        }
        throttle = snap.throttle_s.get(device)
        if throttle is not None:
            entry["throttle_seconds"] = dict(zip(THROTTLE_CAUSES, throttle))
        devices[device] = entry
    temps = [d["max_temperature_c"] for d in devices.values() if d["max_temperature_c"] is not None]
    return finite({
        "hardware_tier": labels.info.get("hardware_tier"),
        "device_type": labels.info.get("device_type"),
        "total_runs": figures["total"],
        "successful_runs": figures["successful"],
        "failed_runs": figures["failed"],
        "success_rate": figures["success_rate"],
        "samples": snap.samples,
        "sample_hz": labels.sample_hz,
        "memory": {
            "avg_peak_memory_mb": figures["avg_peak_memory_mb"],
            "max_peak_memory_mb": spans.peak_memory_max_mb,
            "host_memory_used_mb": _mb(_number(frame, "mem_used_bytes")),
            "host_memory_total_mb": _mb(_number(frame, "mem_total_bytes")),
            "gpu_memory_used_mb": gpu_memory,
            "gpu_memory_total_mb": gpu_total,
        },
        "performance": {
            "avg_duration_s": figures["avg_duration_s"],
            "min_duration_s": spans.duration_min,
            "max_duration_s": spans.duration_max,
            "avg_rtf": figures["avg_rtf"],
            "avg_tokens_per_second": figures["avg_tokens_per_sec"],
        },
        "thermal": {
            "max_temperature_c": max(temps) if temps else None,
            # null where no GPU reports throttle reasons (none, or a driver that cannot say)
            "throttle_detected": any(sum(s) > 0 for s in snap.throttle_s.values()) if snap.throttle_s else None,
            "devices": devices,
        },
    })


def export(snap: ExportSnapshot, labels: ExportLabels, session: Path | None, status: str | None) -> dict[str, Any]:
    return {"session_id": labels.session or None, "status": status, **session_files(session),
            "analysis": analysis(snap, labels)}


def _mb(value: float | None) -> float | None:
    return None if value is None else value / MIB
