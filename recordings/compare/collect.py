"""One session's figures for a comparison, from its meta.json summary (of a session never closed, the
summary its samples give) and lazy polars aggregates.

Samples are never read row by row: per device only the mean power and the energy
are aggregated from `samples.parquet` (two columns), and the span table gives sums
and sums of squares, so groups can pool means and standard deviations exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from recordings.process_attribution import main_gpu_user
from recordings.report.aggregates import device_energy
from recordings.report.data import SessionData, load_session
from recordings.report.sections_signals import THROTTLE_CAUSES, energy_of

# Span columns pooled per group: name -> column in spans.parquet.
SPAN_MEASURES = {"peak_memory_mb": "peak_memory_mb", "rtf": "rtf", "duration_s": "total_duration_s",
                 "energy_j": "energy_j", "cpu_energy_j": "cpu_energy_j", "gpu_energy_j": "gpu_energy_j"}
CAUSES = ("throttled", *(cause for cause, _ in THROTTLE_CAUSES))


def _moments(spans: pl.DataFrame, column: str) -> dict[str, float | int]:
    """n, sum and sum of squares of a span column's non-null values (n 0 when absent)."""
    if column not in spans.columns:
        return {"n": 0, "sum": 0.0, "sumsq": 0.0}
    values = pl.col(column).cast(pl.Float64).drop_nans().drop_nulls()
    row = spans.select(values.count().alias("n"), values.sum().alias("sum"), (values ** 2).sum().alias("sumsq")).row(0)
    return {"n": int(row[0]), "sum": float(row[1] or 0.0), "sumsq": float(row[2] or 0.0)}


def span_figures(data: SessionData) -> dict[str, Any]:
    """Per measure the moments, plus successes, the span count and tokens (for energy per token)."""
    spans = data.spans
    if spans is None:
        return {"total": 0, "successful": 0, "tokens": 0.0, "tokens_with_energy": 0.0, "energy_for_tokens_j": 0.0,
                "moments": {name: {"n": 0, "sum": 0.0, "sumsq": 0.0} for name in SPAN_MEASURES}}
    tokens = pl.col("text_length_tokens").cast(pl.Float64) if "text_length_tokens" in spans.columns else None
    both = (tokens.is_not_null() & pl.col("energy_j").is_not_null()) if tokens is not None \
        and "energy_j" in spans.columns else None
    sums = spans.select(
        (pl.col("success").cast(pl.Int64).sum() if "success" in spans.columns else pl.lit(0)).alias("ok"),
        (tokens.sum() if tokens is not None else pl.lit(0.0)).alias("tokens"),
        (tokens.filter(both).sum() if both is not None and tokens is not None else pl.lit(0.0)).alias("tokens_e"),
        (pl.col("energy_j").filter(both).sum() if both is not None else pl.lit(0.0)).alias("energy_t"),
    ).row(0, named=True)
    return {"total": spans.height, "successful": int(sums["ok"] or 0), "tokens": float(sums["tokens"] or 0.0),
            "tokens_with_energy": float(sums["tokens_e"] or 0.0), "energy_for_tokens_j": float(sums["energy_t"] or 0.0),
            "moments": {name: _moments(spans, column) for name, column in SPAN_MEASURES.items()}}


def session_figures(session: Path) -> dict[str, Any]:
    """The figures of one session a comparison groups: identity, hardware, per device, spans."""
    data = load_session(session, warn=False)
    meta, summary = data.meta, data.summary
    host = meta.get("host") or {}
    duration = found if isinstance(found := summary.get("duration_s"), (int, float)) else 0.0
    energy = device_energy(data, list(data.devices))
    devices = {}
    for prefix, entry in data.devices.items():
        account = entry.get("throttle") if isinstance(entry.get("throttle"), dict) else {}
        joules, method, _ = energy_of(prefix, entry, energy[prefix]["energy_j"])
        devices[prefix] = {
            "max_temp_c": entry.get("max_temp_c"), "mean_util_pct": entry.get("mean_util_pct"),
            "mean_sm_active_pct": entry.get("mean_sm_active_pct"),  # GPM; None: not measured
            "energy_method": method, "measured_energy_j": joules,  # counter first, else power × time
            "collapse_events": entry.get("collapse_events"), **energy[prefix],  # None: not measured
            "throttle_s": {cause: account.get(f"{cause}_s") for cause in CAUSES} if account else None,
        }
    gpus = meta.get("gpus") or []
    return {
        "session": str(meta.get("session_id") or session.name), "path": str(session),
        "host": host.get("hostname"), "hardware_tier": host.get("hardware_tier"), "group_id": meta.get("group_id"),
        "user": main_gpu_user(session),
        "hardware": {"cpu_model": host.get("cpu_model"), "cpu_cores": host.get("cpu_count_logical"),
                     "memory_gb": host["memory_total_bytes"] / 2**30 if isinstance(host.get("memory_total_bytes"),
                                                                                  (int, float)) else None,
                     "gpus": [str(g.get("name") or "unnamed GPU") for g in gpus],
                     "device_type": host.get("device_type")},
        "duration_s": float(duration), "samples": data.total_samples,
        "status": data.status, "unfinished": data.unfinished_note,  # a session never closed: said with its figures
        "workload_s": data.workload_seconds, "devices": devices, "spans": span_figures(data),
    }
