"""Figures computed from a session's samples with lazy polars queries (a few columns, never every row in Python).

- `device_energy`: energy (the trapezoid over power) and time-weighted mean power per device;
- `collapse_rows`: the collapse events of events.jsonl with the evidence seen in their samples;
- `timeseries`: utilization, temperature and power per device, averaged into at most N time bins (for plots).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from collectors.event_kinds import EventKind
from collectors.schema import column
from collectors.signals.device import (
    DEFAULT_TEMP_LIMIT_CPU,
    DEFAULT_TEMP_LIMIT_GPU,
    EVIDENCE_A_LOAD,
    EVIDENCE_SUSTAIN_S,
    EVIDENCE_TEMP_MARGIN_C,
)
from collectors.signals.throttle import ALERT_POWER, EVIDENCE, THERMAL
from recordings.report.data import SessionData


def interval_energy(power_column: str) -> tuple[pl.Expr, pl.Expr]:
    """A sample's share of the power integral, over the time from it to the next sample, and the seconds that share
    covers: a GPU's trapezoid (both ends read: a gap is not bridged), the CPU's next RAPL reading (the mean over that
    time) times it.  Summed over a session: the summary's `integrated_j` (`collectors.energy`); the phases of
    `report --group` split it by sample."""
    power = pl.col(power_column).cast(pl.Float64)
    dt = pl.col("elapsed_s").shift(-1) - pl.col("elapsed_s")
    if power_column == column("cpu", "power_w"):
        return power.shift(-1) * dt, pl.when(power.shift(-1).is_not_null()).then(dt)
    return ((power + power.shift(-1)) * 0.5 * dt,
            pl.when(power.is_not_null() & power.shift(-1).is_not_null()).then(dt))


def device_energy(data: SessionData, prefixes: list[str]) -> dict[str, dict[str, float | None]]:
    """Per device: `energy_j` as the summary's `integrated_j` (`collectors.energy`): a GPU's the trapezoid
    over consecutive samples that both have a power (a gap not bridged), the CPU's RAPL power times the time
    since the previous sample (its reading is the mean over that tick); `powered_s`, the time it covers; and
    `mean_power_w` (`energy_j / powered_s`; the reading itself where no time is covered).

    The samples go through a chunk at a time, each chunk's last sample waiting for the next chunk's first."""
    present = [p for p in prefixes if column(p, "power_w") in data.columns]
    if not present or "elapsed_s" not in data.columns:
        return {p: {"mean_power_w": None, "energy_j": None, "powered_s": None} for p in prefixes}
    powers = [column(p, "power_w") for p in present]
    query = data.samples.select(pl.col(name).cast(pl.Float64) for name in ("elapsed_s", *powers))
    totals: dict[str, float] = {}
    carry: pl.DataFrame | None = None  # the previous chunk's last sample
    for chunk in data.chunks(query):
        frame = chunk if carry is None else pl.concat([carry, chunk])
        row = frame.select(
            *(pl.col(c).tail(chunk.height).sum().alias(f"{c} sum") for c in powers),
            *(interval_energy(c)[0].sum().alias(f"{c} energy") for c in powers),
            *(interval_energy(c)[1].sum().alias(f"{c} seconds") for c in powers),
            *(pl.col(c).tail(chunk.height).count().alias(f"{c} n") for c in powers),
        ).row(0, named=True)
        for key, value in row.items():
            totals[key] = totals.get(key, 0) + (value or 0)
        carry = frame.tail(1)
    out: dict[str, dict[str, float | None]] = {}
    for p in prefixes:
        name = column(p, "power_w")
        count = totals.get(f"{name} n", 0)
        seconds = totals.get(f"{name} seconds", 0.0)
        if not count:
            out[p] = {"mean_power_w": None, "energy_j": None, "powered_s": None}
            continue
        energy = totals[f"{name} energy"] if seconds > 0 else None
        mean = energy / seconds if energy is not None else totals[f"{name} sum"] / count
        out[p] = {"mean_power_w": mean, "energy_j": energy, "powered_s": seconds}
    return out


def collapse_events(data: SessionData) -> list[dict[str, Any]]:
    """Collapse events from events.jsonl: finished ones, then any that never ended (end None), by start."""
    finished = [e for e in data.events_of(EventKind.COLLAPSE_END) if isinstance(e.get("start"), (int, float))]
    ended = {(e.get("device"), e["start"]) for e in finished}
    events = [{"device": str(e.get("device")), "start": float(e["start"]),
               "end": e["end"] if isinstance(e.get("end"), (int, float)) else None,
               "min_rle": e.get("min_rle")} for e in finished]
    for e in data.events_of(EventKind.COLLAPSE_START):
        if isinstance(e.get("start"), (int, float)) and (e.get("device"), e["start"]) not in ended:
            events.append({"device": str(e.get("device")), "start": float(e["start"]), "end": None,
                           "min_rle": e.get("min_rle")})
    return sorted(events, key=lambda e: (e["start"], e["device"]))


def _flags(data: SessionData, p: str) -> list[pl.Expr]:
    """Per sample of device `p`: thermal, power and throttle evidence (SIGNALS.md §3), and its temperature."""
    have = set(data.columns)
    false = pl.lit(False)

    def col(name: str) -> pl.Expr | None:
        return pl.col(column(p, name)) if column(p, name) in have else None

    sustain, temp, limit, a_load, mask = (col(n) for n in ("t_sustain_s", "temp_c", "temp_limit_c", "a_load",
                                                           "throttle_reasons"))
    # A null limit is the default the signals used (SIGNALS.md §1), not an unknown one.
    default = pl.lit(DEFAULT_TEMP_LIMIT_CPU if p == "cpu" else DEFAULT_TEMP_LIMIT_GPU)
    limit = default if limit is None else limit.fill_null(default)
    bits = mask.cast(pl.Int64) if mask is not None else None
    thermal = [e for e in (sustain < EVIDENCE_SUSTAIN_S if sustain is not None else None,
                           temp >= limit - EVIDENCE_TEMP_MARGIN_C if temp is not None else None,
                           (bits & THERMAL) != 0 if bits is not None else None) if e is not None]
    power = [e for e in (a_load > EVIDENCE_A_LOAD if a_load is not None else None,
                         (bits & ALERT_POWER) != 0 if bits is not None else None) if e is not None]
    return [
        pl.any_horizontal(thermal).fill_null(False).alias("thermal") if thermal else false.alias("thermal"),
        pl.any_horizontal(power).fill_null(False).alias("power") if power else false.alias("power"),
        ((bits & EVIDENCE) != 0).fill_null(False).alias("throttle") if bits is not None else false.alias("throttle"),
        (temp.cast(pl.Float64) if temp is not None else pl.lit(None, pl.Float64)).alias("temp"),
    ]


def collapse_rows(data: SessionData) -> list[dict[str, Any]]:
    """Each collapse event with `duration_s`, `evidence` (thermal/power/throttle seen inside it) and `max_temp_c`."""
    events = collapse_events(data)
    last = None  # an event still active ends at the last sample's time (SIGNALS.md §3), on the events' clock
    if "elapsed_s" in data.columns and any(event["end"] is None for event in events):
        last = data.collect(data.samples.select(pl.col("elapsed_s").cast(pl.Float64).max())).item()
    by_device: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        end = event["end"] if event["end"] is not None else last
        event["duration_s"] = None if end is None else end - event["start"]
        event["evidence"], event["max_temp_c"] = [], None
        by_device.setdefault(event["device"], []).append(event)
    if "elapsed_s" not in data.columns:
        return events
    for device, group in by_device.items():
        # Sample k lies in event i when breaks[2i] <= t_k <= breaks[2i+1]: an odd search_sorted position.
        breaks = pl.Series([b for e in group for b in (e["start"], (e["end"] if e["end"] is not None else 1e18) + 1e-9)])
        query = data.samples.select(pl.col("elapsed_s").cast(pl.Float64), *_flags(data, device))
        for chunk in data.chunks(query):
            inside = (chunk.with_columns(breaks.search_sorted(chunk["elapsed_s"], side="right").cast(pl.Int64).alias("pos"))
                      .filter(pl.col("pos") % 2 == 1)
                      .group_by(pl.col("pos") // 2)
                      .agg(pl.col("thermal").any(), pl.col("power").any(), pl.col("throttle").any(), pl.col("temp").max()))
            for row in inside.iter_rows(named=True):  # an event may span chunks: what each saw adds up
                event = group[row["pos"]]
                event["evidence"] = [name for name in ("thermal", "power", "throttle")
                                     if row[name] or name in event["evidence"]]
                if row["temp"] is not None and (event["max_temp_c"] is None or row["temp"] > event["max_temp_c"]):
                    event["max_temp_c"] = row["temp"]
    return events


def timeseries(data: SessionData, prefixes: list[str], max_points: int = 1500) -> pl.DataFrame:
    """`t_s` and per device `{p}_util_pct`, `{p}_temp_c`, `{p}_power_w`, averaged over equal time bins."""
    have = set(data.columns)
    wanted = [column(p, kind) for p in prefixes for kind in ("util_pct", "temp_c", "power_w") if column(p, kind) in have]
    if "elapsed_s" not in have or not wanted:
        return pl.DataFrame({"t_s": []}, schema={"t_s": pl.Float64})
    duration = data.summary.get("duration_s")
    if not isinstance(duration, (int, float)) or duration <= 0:
        duration = data.collect(data.samples.select(pl.col("elapsed_s").max())).item() or 1.0
    width = max(float(duration) / max_points, 1e-6)
    # Sums and counts per bin, a chunk at a time (a bin may straddle two chunks), then the means.
    query = data.samples.select(pl.col("elapsed_s").cast(pl.Float64), *(pl.col(c).cast(pl.Float64) for c in wanted))
    names = ["elapsed_s", *wanted]
    parts = [chunk.group_by((pl.col("elapsed_s") // width).alias("bin"))
             .agg(*(pl.col(c).sum().alias(f"{c} sum") for c in names), *(pl.col(c).count().alias(f"{c} n") for c in names))
             for chunk in data.chunks(query)]
    bins = pl.concat(parts).group_by("bin").agg(pl.all().sum()).sort("bin")
    means = [pl.when(pl.col(f"{c} n") > 0).then(pl.col(f"{c} sum") / pl.col(f"{c} n")).alias(c) for c in names]
    return bins.select(means).rename({"elapsed_s": "t_s"})
