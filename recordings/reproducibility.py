"""Reproducibility over the repeats of one `rigscope run --repeat N` group.

Per session, from samples.parquet: the run phase (every sample tagged neither `baseline` nor
`cooldown`, so probe tags inside the command count as the run) and the baseline phase (the
samples tagged `baseline`). Per device: mean utilization, max temperature, mean power,
energy, collapses (rising edges of `{p}_collapse`), and for GPUs the thermal and power
throttle fractions (time-weighted, each sample weighing `t_{k+1} - t_k`, of the time the bitmask
was read); from the summary's
spans: p50 and p95 span durations and tokens/s. Across the sessions: mean, standard
deviation (n - 1), coefficient of variation (std / |mean|), and the mean of each session's
run minus its baseline. For energy that difference is the energy above idle: run energy
minus the baseline's mean power times the run's duration (both over the time with a power
reading: a gap in the readings neither lowers the idle power nor adds to the energy above it).
Energy carries its method: a GPU's NVML energy counter where it advances over every sample of the
phase (each sample weighs its counter step to the next sample), else the integral of power the
session's summary uses (`collectors.energy`, `recordings.report.aggregates.device_energy`): a GPU's
trapezoid between consecutive samples that both have a power, the CPU's RAPL reading times the
time since the previous sample (the tick it is the mean of); each interval between two samples
goes to the phase of the first.  Mean power is that integral over the time it covers.  The baseline's
mean power comes from the same method. A figure whose CV is over 10% is not reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from collectors.schema import column, device_prefixes
from collectors.signals.throttle import ALERT_POWER, THERMAL
from recordings.errors import InputError
from recordings.reader import read_samples
from recordings.report.aggregates import interval_energy
from recordings.session import list_sessions, read_meta

CV_LIMIT = 0.10
STEP = "_step"  # a counter's increase to the next sample
JOULES = "_joules"  # a sample's share of a power integral
COVERED = "_covered_s"  # the seconds that share covers
IDLE_TAGS = ("baseline", "cooldown")


@dataclass
class Figure:
    name: str
    unit: str
    values: list[float | None]  # one per session, in repeat order
    baselines: list[float | None]
    deltas: list[float | None]
    mean: float | None = None
    std: float | None = None
    cv: float | None = None
    baseline_mean: float | None = None
    delta_mean: float | None = None
    reproducible: bool | None = None  # None: fewer than two values, or a mean of 0

    def settle(self) -> None:
        present = [v for v in self.values if v is not None]
        self.mean = _mean(present)
        self.std = _std(present)
        if self.std is not None and self.mean:
            self.cv = self.std / abs(self.mean)
            self.reproducible = self.cv <= CV_LIMIT
        elif self.std is not None:
            self.reproducible = self.std == 0
        self.baseline_mean = _mean([v for v in self.baselines if v is not None])
        self.delta_mean = _mean([v for v in self.deltas if v is not None])


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _std(values: list[float]) -> float | None:
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def group_sessions(group_id: str, root: Path) -> tuple[list[tuple[Path, dict[str, Any]]], list[str]]:
    """(complete sessions of the group whose command succeeded, in repeat order with their meta; ids of those
    left out and why)."""
    members: list[tuple[Path, dict[str, Any]]] = []
    left_out: list[str] = []
    for session in list_sessions(root):
        try:
            meta = read_meta(session)
        except InputError:
            continue
        if meta.get("group_id") != group_id:
            continue
        exit_code = (meta.get("run") or {}).get("exit_code")
        if meta.get("status") != "complete":
            left_out.append(f"{session.name} ({meta.get('status')})")
        elif exit_code not in (0, None):  # its figures are of a failure, not of the workload
            left_out.append(f"{session.name} (exit {exit_code})")
        else:
            members.append((session, meta))
    if not members:
        raise InputError(f"no complete session of group '{group_id}' in {root}"
                         + (f" (left out: {', '.join(left_out)})" if left_out else ""))
    members.sort(key=lambda item: ((item[1].get("run") or {}).get("repeat") or 0, item[0].name))
    return members, left_out


def _power_shares(columns: list[str]) -> list[pl.Expr]:
    """Each sample's share of every power integral and the seconds it covers, as the summary integrates: the phases
    then split one session's integral, their sum is the summary's."""
    return [expr.alias(f"{name}{suffix}") for name in columns if name.endswith("_power_w")
            for expr, suffix in zip(interval_energy(name), (JOULES, COVERED))]


def _phases(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(run rows, baseline rows), each with its `dt` weight (the time to the next sample) and its shares of the
    energy counters' steps and the power integrals, taken over the whole session before it is split."""
    steps = [(pl.col(name).shift(-1) - pl.col(name)).alias(f"{name}{STEP}") for name in frame.columns
             if name.endswith("_energy_j")]
    frame = frame.sort("elapsed_s").with_columns(
        (pl.col("elapsed_s").shift(-1) - pl.col("elapsed_s")).fill_null(0.0).alias("dt"), *steps,
        *_power_shares(frame.columns))
    state = pl.col("workload_state")
    return frame.filter(state.is_null() | ~state.is_in(IDLE_TAGS)), frame.filter(state == "baseline")


def _column_figures(rows: pl.DataFrame, prefix: str) -> dict[str, float | None]:
    """This device's figures over one phase's rows."""
    def has(name: str) -> bool:
        return name in rows.columns and rows[name].null_count() < rows.height

    def stat(name: str, how: Callable[[pl.Series], Any]) -> float | None:
        return float(how(rows[name].drop_nulls())) if has(name) else None

    duration = float(rows["dt"].sum()) if rows.height else 0.0
    counter_j = _counter_energy(rows, column(prefix, "energy_j") + STEP)
    power = column(prefix, "power_w")
    # the integral of power over this phase's intervals, and the time it covers (a gap in the readings is left out)
    powered_s = float(rows[power + COVERED].sum()) if has(power) else 0.0
    integrated_j = float(rows[power + JOULES].sum()) if powered_s > 0 else None
    out: dict[str, Any] = {
        "mean_util_pct": stat(column(prefix, "util_pct"), pl.Series.mean),
        "max_temp_c": stat(column(prefix, "temp_c"), pl.Series.max),
        "mean_power_w": integrated_j / powered_s if integrated_j is not None else stat(power, pl.Series.mean),
        "energy_j": counter_j if counter_j is not None else integrated_j,
        "energy_method": "counter" if counter_j is not None else
        ("rapl" if prefix == "cpu" else "integrated_power") if integrated_j is not None else "none",
        "collapses": None,
        "duration_s": duration,
        "energy_s": duration if counter_j is not None else powered_s,  # the time the energy covers
    }
    if column(prefix, "collapse") in rows.columns:
        active = rows[column(prefix, "collapse")].fill_null(0) > 0
        out["collapses"] = float((active & ~active.shift(1, fill_value=False)).sum())
    mask_name = column(prefix, "throttle_reasons")
    if prefix != "cpu":
        # of the time the bitmask was read (a sample without one is unknown, not unthrottled), as the summary's
        observed = float(rows.filter(pl.col(mask_name).is_not_null())["dt"].sum()) if has(mask_name) else 0.0
        for key, bits in (("thermal", THERMAL), ("power", ALERT_POWER)):
            out[f"throttle_{key}_fraction"] = (
                float(rows.filter((pl.col(mask_name) & bits) > 0)["dt"].sum()) / observed if observed > 0 else None)
    return out


def _counter_energy(rows: pl.DataFrame, steps: str) -> float | None:
    """Joules of the phase from the energy counter's steps, where it has a step at every sample but the
    session's last, none negative (a reset), and it advanced; else None."""
    if steps not in rows.columns or not rows.height:
        return None
    values = rows[steps]
    known = values.drop_nulls()
    if known.len() < rows.height - 1 or known.len() == 0 or (known < 0).any() or float(known.sum()) <= 0:
        return None
    return float(known.sum())


FIGURES = (("mean_util_pct", "%"), ("max_temp_c", "°C"), ("mean_power_w", "W"), ("energy_j", "J"),
           ("collapses", ""), ("throttle_thermal_fraction", ""), ("throttle_power_fraction", ""))
SPAN_FIGURES = (("p50_duration_s", "spans.p50_s", "s"), ("p95_duration_s", "spans.p95_s", "s"),
                ("avg_tokens_per_sec", "spans.tokens_per_s", "tok/s"))
UNITS = dict(FIGURES) | {name: unit for _, name, unit in SPAN_FIGURES}


def session_figures(session: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """name -> (run value, run minus baseline) for one session, and `<device>.energy_method` -> its method (text)."""
    run, baseline = _phases(read_samples(session))
    prefixes = device_prefixes(g.get("index", i) for i, g in enumerate(meta.get("gpus") or []))
    out: dict[str, Any] = {}
    for prefix in prefixes:
        ran, idle = _column_figures(run, prefix), _column_figures(baseline, prefix)
        out[f"{prefix}.energy_method"] = ran["energy_method"]
        for key, _unit in FIGURES:
            if key not in ran:
                continue
            value, base = ran[key], idle[key]
            if key == "energy_j":  # the baseline's mean power, by the run's method, over the time the run's covers
                idle_w = (idle["energy_j"] / idle["energy_s"] if idle["energy_method"] == ran["energy_method"]
                          and idle["energy_j"] is not None and idle["energy_s"] else None)
                base = None if idle_w is None else idle_w * (ran["energy_s"] or 0.0)
            out[f"{prefix}.{key}"] = (value, None if value is None or base is None else value - base)
    spans = (meta.get("summary") or {}).get("spans") or {}
    for key, name, _unit in SPAN_FIGURES:
        if spans.get("total"):
            out[name] = (spans.get(key), None)
    return out


def reproducibility(group_id: str, root: Path) -> dict[str, Any]:
    """The group's report as plain data: sessions, hardware configurations, figures."""
    members, left_out = group_sessions(group_id, root)
    per_session = [session_figures(session, meta) for session, meta in members]
    seen: dict[str, dict[str, None]] = {}  # device -> its energy methods over the sessions, in order
    for figures_of in per_session:
        for name in [n for n in figures_of if n.endswith(".energy_method")]:
            seen.setdefault(name.removesuffix(".energy_method"), {})[figures_of.pop(name)] = None
    methods = {device: ", ".join(found) for device, found in seen.items()}
    names = list(dict.fromkeys(name for figures in per_session for name in figures))
    figures: list[Figure] = []
    for name in names:
        pairs = [figures_of.get(name, (None, None)) for figures_of in per_session]
        values, deltas = [p[0] for p in pairs], [p[1] for p in pairs]
        baselines = [None if v is None or d is None else v - d for v, d in pairs]
        figure = Figure(name, UNITS.get(name) or UNITS.get(name.split(".", 1)[-1], ""), values, baselines, deltas)
        figure.settle()
        figures.append(figure)
    first_run = members[0][1].get("run") or {}
    return {
        "group_id": group_id,
        "command_line": first_run.get("command_line"),
        "sessions": [{"id": session.name, "repeat": (meta.get("run") or {}).get("repeat"),
                      "exit_code": (meta.get("run") or {}).get("exit_code"),
                      "wall_s": (meta.get("run") or {}).get("wall_s")} for session, meta in members],
        "left_out": left_out,
        "hardware": hardware_configurations([meta for _, meta in members]),
        "cv_limit": CV_LIMIT,
        "figures": [asdict(figure) for figure in figures],
        "energy_methods": methods,  # device -> the method(s) its energy figures were measured with
    }


def hardware_configurations(metas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The distinct machines of the group (usually one), with the sessions on each."""
    configs: dict[tuple[Any, ...], dict[str, Any]] = {}
    for meta in metas:
        host = meta.get("host") or {}
        gpus = meta.get("gpus") or []
        entry = {"hostname": host.get("hostname"), "cpu_model": host.get("cpu_model"),
                 "cpu_count": host.get("cpu_count_logical"), "memory_bytes": host.get("memory_total_bytes"),
                 "gpus": [g.get("name") for g in gpus], "driver": next((g.get("driver_version") for g in gpus), None),
                 "hardware_tier": host.get("hardware_tier"),
                 "source": (meta.get("monitoring") or {}).get("source"),
                 "sample_hz": (meta.get("monitoring") or {}).get("sample_hz")}
        key = tuple(str(value) for value in entry.values())
        configs.setdefault(key, {**entry, "sessions": 0})["sessions"] += 1
    return list(configs.values())
