"""The session summary (SIGNALS.md §6) from the pipeline's per-device and workload state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from collectors.signals.device import DeviceSignals


def _max(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None


def build_summary(
    samples: int,
    t_first: float | None,
    t_last: float | None,
    devices: Sequence[DeviceSignals],
    workload_seconds: dict[str, float],
    dropped_tags: int = 0,
) -> dict[str, Any]:
    """Summary keys of §6 (nulls where nothing was measured), plus per-GPU `throttle` and
    `mean_sm_active_pct` (GPM; null where the GPU has none), and `workload_dropped_tags`: tags the
    workload state did not take (over its bounds), so that its seconds are known to miss them."""
    duration = t_last - t_first if t_first is not None and t_last is not None else 0.0
    per_device: dict[str, dict[str, Any]] = {}
    for device in devices:
        entry = device.summary(t_last)
        if device.throttle is not None:
            entry["throttle"] = device.throttle.summary()
            entry["mean_sm_active_pct"] = device.sm_sum / device.sm_n if device.sm_n else None
        per_device[device.prefix] = entry
    entries = list(per_device.values())
    rle_min = _min_present([entry["rle_min"] for entry in entries])
    rle_max = _max([entry["rle_max"] for entry in entries])
    return {
        "samples": samples,
        "duration_s": duration,
        "devices": per_device,
        "workload_seconds": dict(workload_seconds),
        "workload_dropped_tags": dropped_tags,
        "cpu_collapses": per_device["cpu"]["collapse_events"] if "cpu" in per_device else 0,
        "gpu_collapses": sum(entry["collapse_events"] for prefix, entry in per_device.items() if prefix != "cpu"),
        "max_temp": _max([entry["max_temp_c"] for entry in entries]),
        "max_power": _max([entry["max_power_w"] for entry in entries]),
        "rle_range": None if rle_min is None or rle_max is None else f"{rle_min:.3f}-{rle_max:.3f}",
    }


def _min_present(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return min(present) if present else None
