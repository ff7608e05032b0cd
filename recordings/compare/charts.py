"""The comparison's charts, one spec each, drawn as plotext text or as matplotlib PNGs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recordings.inert import inert
from recordings.report import textplots

COLUMNS_PER_BAR = 4  # a bar, its gap and a few characters of its label


@dataclass
class BarSpec:
    stem: str
    title: str
    ylabel: str
    labels: list[str]
    values: list[float | None]
    errors: list[float | None] | None = None
    counts: list[int | None] | None = None
    reference: tuple[float, str] | None = None
    xlabel: str = "group"


def bar_specs(groups: list[dict[str, Any]]) -> list[BarSpec]:
    """TTS figures (when any group has spans), then per device: max temperature, mean power, collapse rate."""
    specs = []
    timed = [g for g in groups if g["spans"]]
    if timed:
        names = [inert(g["group"]) for g in timed]
        for stem, title, ylabel in (("peak_memory", "Peak memory per request", "peak memory (MB)"),
                                    ("rtf", "Real-time factor; below 1.0 is faster than real time",
                                     "RTF")):
            stats = [g[stem if stem != "peak_memory" else "peak_memory_mb"] for g in timed]
            if any(s["n"] for s in stats):
                specs.append(BarSpec(stem, title, ylabel, names, [s["mean"] for s in stats], [s["std"] for s in stats],
                                     [s["n"] for s in stats], (1.0, "real time (RTF 1.0)") if stem == "rtf" else None))
        specs.append(BarSpec("success_rate", "Request success rate", "success (%)", names,
                             [100 * g["success_rate"] if g["success_rate"] is not None else None for g in timed],
                             counts=[g["spans"] for g in timed]))
    pairs = [(inert(f"{g['group']} {d['device']}"), d) for g in groups for d in g["devices"]]
    labels = [label for label, _ in pairs]
    specs += [BarSpec("max_temp", "Maximum temperature per device", "temperature (°C)", labels,
                      [d["max_temp_c"] for _, d in pairs], xlabel="group and device"),
              BarSpec("mean_power", "Mean power per device", "power (W)", labels, [d["mean_power_w"] for _, d in pairs],
                      xlabel="group and device"),
              BarSpec("collapse_rate", "Collapse rate per device", "collapses per hour", labels,
                      [d["collapse_rate_per_h"] for _, d in pairs], xlabel="group and device")]
    return specs


def text_charts(groups: list[dict[str, Any]], width: int = 100, colorless: bool = True) -> list[str]:
    """One text chart per spec; a chart with more bars than `width` columns can show (COLUMNS_PER_BAR each)
    is one line that says so, instead of bars nobody can read that take seconds per thousand to draw."""
    return [textplots.bars(textplots.Chart(spec.title, spec.xlabel, spec.ylabel, width, 14, colorless,
                                           hline=spec.reference), spec.labels, spec.values)
            if len(spec.labels) * COLUMNS_PER_BAR <= width else
            f"{spec.title}: {len(spec.labels)} bars do not fit {width} columns (the figures are in the tables; "
            "--out writes them as CSV and PNG)" for spec in bar_specs(groups)]


def png_charts(groups: list[dict[str, Any]], directory: Path) -> list[Path]:
    from recordings.report.figures import bar_figure

    return [bar_figure(directory / f"{spec.stem}.png", spec.title, spec.ylabel, spec.labels, spec.values,
                       spec.xlabel, spec.errors, spec.counts, spec.reference) for spec in bar_specs(groups)]
