"""`rigscope correlate SESSION METRIC`: how a custom metric behaves around collapse events.

The metric's points come from the session's `metric` events (what
`rigscope.metric` sent).  For each device (cpu, gpu0, ...):

- the metric's points inside collapses against outside them (mean, max, count);
  a point is inside when the sample at or before its time has `{device}_collapse` set, and
  in neither where that sample has no `{device}_rle_smoothed` (collapses are unknown there;
  `collapses` is null for a device whose RLE is never known);
- the correlation of the metric with `{device}_rle_smoothed` at lags from -10 s to
  +10 s: the metric is carried forward onto the sample times (its last value at or
  before each, none after its last point), and at lag L the metric at `t - L` is set against the RLE at `t`.
  A positive lag means the metric leads: it moves L seconds before the RLE does.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import polars as pl

from collectors.event_kinds import EventKind
from collectors.schema import column
from collectors.timeutil import iso_from_us, us_from_iso
from recordings.errors import InputError
from recordings.events import EVENTS, read_events
from recordings.inert import inert
from recordings.reader import read_samples
from recordings.session import read_meta, session_status

MAX_LAG_S = 10


def metric_points(session: Path, name: str) -> pl.DataFrame:
    """The metric's points, ts (µs) ascending: columns `ts_us`, `value`; InputError when it has none."""
    events = [e for e in read_events(session / EVENTS, warn=False) if e.get("kind") == EventKind.METRIC]
    names = sorted({str(e.get("name")) for e in events})
    if name not in names:
        known = f"its metrics: {', '.join(map(inert, names))}" if names else \
            "it has no custom metrics (rigscope.metric sends them)"
        raise InputError(f"no metric '{inert(name)}' in session {inert(session.name)}; {known}")
    rows: list[tuple[int, float]] = []
    for event in events:
        value = event.get("value")
        if event.get("name") != name or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not math.isfinite(value):
            continue
        try:
            rows.append((us_from_iso(str(event["ts"])), float(value)))
        except (KeyError, ValueError, OverflowError):
            continue
    rows.sort()
    return pl.DataFrame(rows, schema={"ts_us": pl.Int64, "value": pl.Float64}, orient="row")


def _samples(session: Path) -> pl.DataFrame:
    table = read_samples(session)
    if "ts" not in table.columns or table.height == 0:
        raise InputError(f"session {session.name} has no samples")
    return table.with_columns(pl.col("ts").dt.epoch("us").cast(pl.Int64).alias("ts_us")).sort("ts_us")


def _derived(session: Path, samples: pl.DataFrame) -> pl.DataFrame:
    """The samples with their derived columns computed here, as `rigscope analyze` would, for a session
    recorded without them (by another tool, or an older rigscope)."""
    from recordings.analyze import analyze_frame, prepare_samples, tags_of

    try:
        frame = prepare_samples(samples.drop("ts_us"), session.name)
    except InputError as error:
        raise InputError(f"session {session.name} has no rle_smoothed columns, nor the samples to derive them "
                         f"({error})") from None
    derived, _summary, _events = analyze_frame(frame, tags_of(read_events(session / EVENTS, warn=False)))
    return derived.with_columns(samples["ts_us"])


def _devices(table: pl.DataFrame) -> list[str]:
    return [c.removesuffix("_rle_smoothed") for c in table.columns if c.endswith("_rle_smoothed")]


def _stats(values: pl.Series) -> dict[str, Any]:
    return {"points": values.len(), "mean": values.mean() if values.len() else None,
            "max": values.max() if values.len() else None}


def _collapses(flags: pl.Series) -> int:
    """Rising edges of a device's collapse flag."""
    on = flags.fill_null(0).cast(pl.Int8) > 0
    return int((on & ~on.shift(1, fill_value=False)).sum())


def _pearson(x: pl.Series, y: pl.Series) -> tuple[float | None, int]:
    frame = pl.DataFrame({"x": x, "y": y}).drop_nulls().filter(pl.col("x").is_not_nan() & pl.col("y").is_not_nan())
    n = frame.height
    if n < 3 or frame["x"].std() in (0.0, None) or frame["y"].std() in (0.0, None):
        return None, n
    r = frame.select(pl.corr("x", "y")).item()
    return (None if r is None or not math.isfinite(r) else float(r)), n


def correlate(session: Path, name: str, max_lag_s: int = MAX_LAG_S) -> dict[str, Any]:
    """The comparison, as a JSON-ready dict (see the module's docstring)."""
    meta = read_meta(session)
    points = metric_points(session, name)
    samples = _samples(session)
    devices = _devices(samples) or _devices(samples := _derived(session, samples))
    keep = ["ts_us", *(c for d in devices for c in (column(d, "rle_smoothed"), column(d, "collapse")) if c in samples.columns)]
    samples = samples.select(keep)
    flagged = points.join_asof(samples, on="ts_us", strategy="backward")
    result: dict[str, Any] = {
        "session": meta.get("session_id") or session.name,
        "metric": name,
        "points": points.height,
        "recording": session_status(meta, session) == "recording",  # still being recorded: the samples so far
        "first": iso_from_us(points["ts_us"][0]) if points.height else None,
        "last": iso_from_us(points["ts_us"][-1]) if points.height else None,
        "lag_meaning": "lag_s > 0: the metric leads (its value lag_s seconds earlier against the RLE now)",
        "devices": [],
    }
    last = points["ts_us"].max() if points.height else None
    # Carried forward up to the metric's last point, not past it: after that its value is unknown.
    shifted = {lag: samples.select("ts_us", (pl.col("ts_us") - lag * 1_000_000).alias("at"))
               .join_asof(points.rename({"ts_us": "at"}), on="at", strategy="backward")
               .select(pl.when(pl.col("at") <= last).then(pl.col("value")).alias("value"))["value"]
               for lag in range(-max_lag_s, max_lag_s + 1)}
    for device in devices:
        collapse_col, rle_col = column(device, "collapse"), column(device, "rle_smoothed")
        # Where the RLE is unknown (no power reading, or no sample yet) collapses are not looked for:
        # a point there is neither inside nor outside one.
        measured = flagged.filter(pl.col(rle_col).is_not_null())
        inside = measured.filter(pl.col(collapse_col).fill_null(0) > 0)["value"] if collapse_col in measured.columns \
            else pl.Series("value", [], pl.Float64)
        outside = measured.filter(pl.col(collapse_col).fill_null(0) <= 0)["value"] if collapse_col in measured.columns \
            else measured["value"]
        lags = []
        for lag, values in shifted.items():
            r, n = _pearson(values, samples[rle_col].cast(pl.Float64))
            lags.append({"lag_s": lag, "r": r, "n": n})
        known = [(abs(r), entry) for entry in lags if (r := entry["r"]) is not None]
        best = max(known, key=lambda pair: pair[0])[1] if known else None
        result["devices"].append({
            "device": device,
            "collapses": None if samples[rle_col].null_count() == samples.height
            else _collapses(samples[collapse_col]) if collapse_col in samples.columns else 0,
            "inside": _stats(inside),
            "outside": _stats(outside),
            "lags": lags,
            "best": None if best is None else {"lag_s": best["lag_s"], "r": best["r"]},
        })
    return result
