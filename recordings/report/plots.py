"""A session's plots: utilization, temperature and power over time, with collapse regions and notes.

The same series feed the text charts (plotext; terminal or `--plots DIR/*.txt`) and
the PNG figures (matplotlib, the `plots` extra; `recordings.report.figures`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from collectors.event_kinds import EventKind
from collectors.schema import column, device_prefixes
from recordings.report import textplots
from recordings.report.aggregates import collapse_events, timeseries
from recordings.report.data import SessionData

# (file stem, column suffix, title, y axis label)
QUANTITIES = (("utilization", "util_pct", "Utilization", "utilization (%)"),
              ("temperature", "temp_c", "Temperature", "temperature (°C)"),
              ("power", "power_w", "Power", "power (W)"))
PNG_EXTRA = 'PNG figures need matplotlib: pip install "rigscope[plots]"'


@dataclass
class PlotData:
    """Everything a plot draws, with time in `unit` (minutes or hours) from the session start."""

    session_id: str
    unit: str
    table: pl.DataFrame  # t (in unit), per device {p}_{util_pct,temp_c,power_w}
    devices: list[str]
    collapses: list[tuple[str, float, float]]  # device, start, end (in unit)
    notes: list[tuple[float, str]]  # time (in unit), text

    def regions(self) -> list[tuple[float, float]]:
        """Collapse spans of any device, overlapping ones merged (so each stretch is shaded once)."""
        merged: list[tuple[float, float]] = []
        for start, end in sorted((s, e) for _, s, e in self.collapses):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    def series(self, suffix: str, max_points: int | None = None) -> list[tuple[str, list[float], list[float | None]]]:
        """(device, times, values) of each device that measured `suffix`; every k-th point up to `max_points`."""
        table = self.table
        if max_points and table.height > max_points:
            table = table.gather_every(-(-table.height // max_points))
        xs = table.get_column("t").to_list() if "t" in table.columns else []
        return [(p, xs, table.get_column(column(p, suffix)).to_list())
                for p in self.devices if column(p, suffix) in table.columns
                and table.get_column(column(p, suffix)).null_count() < table.height]


def plot_data(data: SessionData, max_points: int = 1500) -> PlotData:
    gpus = data.meta.get("gpus") or []
    devices = list(data.devices) or device_prefixes(g.get("index", i) for i, g in enumerate(gpus))
    duration = data.summary.get("duration_s")
    hours = isinstance(duration, (int, float)) and duration >= 3 * 3600
    scale, unit = (3600.0, "h") if hours else (60.0, "min")
    table = timeseries(data, devices, max_points)
    if table.height:
        table = table.with_columns((pl.col("t_s") / scale).alias("t")).drop("t_s")
    collapses = []
    last = duration if isinstance(duration, (int, float)) else None
    for event in collapse_events(data):
        end = event["end"] if event["end"] is not None else last
        if end is not None:
            collapses.append((event["device"], event["start"] / scale, end / scale))
    notes = [(elapsed / scale, str(event.get("text", ""))) for event in data.events_of(EventKind.NOTE)
             if (elapsed := data.elapsed_of(event["ts"])) is not None]
    return PlotData(str(data.meta.get("session_id") or data.path.name), unit, table, devices, collapses, notes)


def text_plots(plots: PlotData, width: int = 100, height: int = 18, colorless: bool = True) -> dict[str, str]:
    """The three text charts, keyed by file stem."""
    out = {}
    for stem, suffix, title, ylabel in QUANTITIES:
        series = plots.series(suffix, max_points=2 * width)  # 2 braille dots a cell
        # Power: the CPU (~100 W) on its own axis, not flattened under GPUs of several hundred watts.
        parts = [(title, series)] if suffix != "power_w" else split_cpu(title, series)
        out[stem] = "\n\n".join(
            textplots.lines(textplots.Chart(f"{name}: {plots.session_id}", f"time since start ({plots.unit})",
                                            ylabel, width, height, colorless, regions=plots.regions(),
                                            marks=[t for t, _ in plots.notes]), part)
            for name, part in parts)
    return out


def split_cpu(title: str, series: list[Any]) -> list[tuple[str, list[Any]]]:
    """`series` as one chart, or as GPUs' and CPU's when it has both."""
    cpu = [item for item in series if item[0] == "cpu"]
    gpus = [item for item in series if item[0] != "cpu"]
    if not cpu or not gpus:
        return [(title, series)]
    return [(f"{title} (GPUs)", gpus), (f"{title} (CPU)", cpu)]


def png_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True
