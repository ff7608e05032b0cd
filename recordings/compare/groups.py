"""Sessions grouped by hardware tier, host, session or user, and each group's pooled figures.

Groups come from the data (the sessions' meta.json), never from a list of platforms.
Means and standard deviations of span measures are pooled from sums, so a group's
figure is the one its spans give together, whatever the session sizes.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from recordings.compare.collect import CAUSES, SPAN_MEASURES

GROUP_KEYS = ("hardware_tier", "host", "session", "user")  # user: who held the most GPU memory


def group_key(figures: dict[str, Any], by: str) -> str:
    return str(figures.get(by) or "unknown")


def _pooled(moments: list[dict[str, float | int]]) -> dict[str, float | int | None]:
    """Mean, sample standard deviation and count over all values behind the moments; one value has no
    standard deviation (null, not 0: nothing says how much it varies)."""
    n = sum(m["n"] for m in moments)
    if not n:
        return {"mean": None, "std": None, "n": 0}
    total = sum(m["sum"] for m in moments)
    mean = total / n
    if n == 1:
        return {"mean": mean, "std": None, "n": 1}
    variance = (sum(m["sumsq"] for m in moments) - n * mean * mean) / (n - 1)
    return {"mean": mean, "std": math.sqrt(max(variance, 0.0)), "n": n}


def _sum_present(values: list[Any]) -> float | None:
    present = [v for v in values if isinstance(v, (int, float))]
    return sum(present) if present else None


def _max_present(values: list[Any]) -> float | None:
    present = [v for v in values if isinstance(v, (int, float))]
    return max(present) if present else None


def _device(prefix: str, sessions: list[dict[str, Any]]) -> dict[str, Any]:
    entries = [(s, s["devices"][prefix]) for s in sessions if prefix in s["devices"]]
    hours = sum(s["duration_s"] for s, _ in entries) / 3600
    events = _sum_present([d["collapse_events"] for _, d in entries])
    counted_h = sum(s["duration_s"] for s, d in entries if d["collapse_events"] is not None) / 3600
    energy = _sum_present([d["energy_j"] for _, d in entries])
    powered_s = sum(d["powered_s"] for _, d in entries if d["energy_j"] is not None)
    throttle = [d["throttle_s"] for _, d in entries if d["throttle_s"]]
    sm = [(s["duration_s"], d["mean_sm_active_pct"]) for s, d in entries
          if isinstance(d.get("mean_sm_active_pct"), (int, float))]
    sm_s = sum(seconds for seconds, _ in sm)
    return {
        "device": prefix, "sessions": len(entries), "hours": hours,
        "max_temp_c": _max_present([d["max_temp_c"] for _, d in entries]),
        # energy over the time with a power reading (a gap in power neither adds energy nor dilutes the mean)
        "mean_power_w": energy / powered_s if energy is not None and powered_s > 0 else None,
        "energy_j": energy, "collapse_events": events,
        "collapse_rate_per_h": events / counted_h if events is not None and counted_h > 0 else None,
        "throttle_s": {cause: _sum_present([t.get(cause) for t in throttle]) for cause in CAUSES} if throttle else None,
        # time-weighted over the sessions that measured SM activity (GPM)
        "mean_sm_active_pct": sum(s * v for s, v in sm) / sm_s if sm_s > 0 else None,
        # energy by each session's method (counter first), and the methods it came from
        "measured_energy_j": _sum_present([d.get("measured_energy_j") for _, d in entries]),
        "energy_method": ", ".join(dict.fromkeys(d.get("energy_method") or "none" for _, d in entries)) or "none",
    }


def _hardware(sessions: list[dict[str, Any]]) -> dict[str, Any]:
    def distinct(values: list[Any]) -> str:
        return ", ".join(dict.fromkeys(str(v) for v in values if v not in (None, ""))) or "—"

    return {"hosts": distinct([s["host"] for s in sessions]),
            "tiers": distinct([s["hardware_tier"] for s in sessions]),
            "cpu": distinct([s["hardware"]["cpu_model"] for s in sessions]),
            "cpu_cores": distinct([s["hardware"]["cpu_cores"] for s in sessions]),
            "memory_gb": distinct([f"{s['hardware']['memory_gb']:.0f}" for s in sessions
                                   if s["hardware"]["memory_gb"] is not None]),
            "gpus": distinct([" + ".join(f"{count}× {name}" for name, count in Counter(s["hardware"]["gpus"]).items())
                              or "none" for s in sessions])}  # a box with two models names both


def summarize_group(name: str, sessions: list[dict[str, Any]]) -> dict[str, Any]:
    spans = [s["spans"] for s in sessions]
    total = sum(sp["total"] for sp in spans)
    measures = {measure: _pooled([sp["moments"][measure] for sp in spans]) for measure in SPAN_MEASURES}
    tokens = sum(sp["tokens_with_energy"] for sp in spans)
    workload: dict[str, float] = {}
    for s in sessions:
        for state, seconds in s["workload_s"].items():
            workload[state] = workload.get(state, 0.0) + seconds
    prefixes = list(dict.fromkeys(p for s in sessions for p in s["devices"]))
    return {
        "group": name, "sessions": [s["session"] for s in sessions],
        "hours": sum(s["duration_s"] for s in sessions) / 3600, "hardware": _hardware(sessions),
        "spans": total, "success_rate": sum(sp["successful"] for sp in spans) / total if total else None,
        "peak_memory_mb": measures["peak_memory_mb"], "rtf": measures["rtf"], "duration_s": measures["duration_s"],
        "energy_per_request_j": {"total": measures["energy_j"]["mean"], "cpu": measures["cpu_energy_j"]["mean"],
                                 "gpu": measures["gpu_energy_j"]["mean"]},
        "energy_per_token_j": sum(sp["energy_for_tokens_j"] for sp in spans) / tokens if tokens else None,
        "workload_s": workload, "devices": [_device(p, sessions) for p in prefixes],
    }


def compare(figures: list[dict[str, Any]], by: str = "hardware_tier") -> list[dict[str, Any]]:
    """Groups in order of first appearance, each with its pooled figures."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in figures:
        groups.setdefault(group_key(item, by), []).append(item)
    return [summarize_group(name, members) for name, members in groups.items()]
