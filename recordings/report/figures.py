"""PNG figures with matplotlib (the `plots` extra), sized for a thesis page: 16 cm wide, 9 pt text.

Session figures show one quantity over time per device, collapse regions shaded and notes
marked; compare figures are bars with error bars and an optional reference line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recordings.report.plots import QUANTITIES, PlotData, split_cpu

WIDTH_IN = 6.3  # 16 cm: a thesis text width
HEIGHT_IN = 2.6
DPI = 200
NOTE_LABELS = 12  # notes numbered on the plot up to this many


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 8,
                         "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False,
                         "axes.spines.right": False})
    return plt


def _save(plt: Any, figure: Any, path: Path, bottom: float = 0.19, legend: bool = True) -> Path:
    # Fixed margins (room for a legend on the right): tight_layout would draw the figure twice.
    figure.subplots_adjust(left=0.1, right=0.8 if legend else 0.97, bottom=bottom, top=0.87)
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path


def session_figures(plots: PlotData, directory: Path) -> list[Path]:
    """utilization.png, temperature.png and power.png; a quantity no device measured is left out."""
    plt = _pyplot()
    written = []
    for stem, suffix, title, ylabel in QUANTITIES:
        series = plots.series(suffix)
        if not series:
            continue
        figure, axes = plt.subplots(figsize=(WIDTH_IN, HEIGHT_IN))
        parts = split_cpu(title, series) if suffix == "power_w" else [(title, series)]
        for label, xs, ys in parts[0][1]:
            axes.plot(xs, [float("nan") if y is None else y for y in ys], linewidth=1.0, label=label)
        right = None
        if len(parts) > 1:  # a ~100 W CPU on its own axis (right), not flattened under GPUs of several hundred W
            right = axes.twinx()
            right.spines["right"].set_visible(True)
            for label, xs, ys in parts[1][1]:
                right.plot(xs, [float("nan") if y is None else y for y in ys], linewidth=1.0, color="0.3",
                           linestyle="--", label=label)
            right.set_ylabel(f"CPU {ylabel}")
            ylabel = f"GPU {ylabel}"
        regions = plots.regions()
        if regions:  # one collection: a day holds hundreds of collapses, and axvspan each is slow
            axes.broken_barh([(start, end - start) for start, end in regions], (0, 1),
                             transform=axes.get_xaxis_transform(), facecolors="tab:red", alpha=0.18, linewidth=0,
                             label="collapse")
        for i, (t, _) in enumerate(plots.notes):
            axes.axvline(t, color="0.35", linestyle=":", linewidth=0.9, label="note" if i == 0 else None)
            if len(plots.notes) <= NOTE_LABELS:
                axes.annotate(str(i + 1), (t, 1.0), xycoords=("data", "axes fraction"), fontsize=7,
                              ha="center", va="bottom", color="0.25")
        if suffix == "util_pct":
            axes.set_ylim(0, 105)
        axes.set_xlabel(f"time since start ({plots.unit})")
        axes.set_ylabel(ylabel)
        axes.set_title(f"{title} — {plots.session_id}", loc="left", pad=10)
        axes.grid(True, linewidth=0.4, alpha=0.5)
        handles, labels = axes.get_legend_handles_labels()
        if right is not None:  # one legend for both axes, clear of the right axis' numbers
            more = right.get_legend_handles_labels()
            handles, labels = handles + more[0], labels + more[1]
        axes.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.12 if right else 1.01, 1.0), frameon=False)
        written.append(_save(plt, figure, directory / f"{stem}.png"))
    return written


def bar_figure(path: Path, title: str, ylabel: str, labels: Sequence[str], values: Sequence[float | None],
               xlabel: str = "", errors: Sequence[float | None] | None = None,
               counts: Sequence[int | None] | None = None,
               reference: tuple[float, str] | None = None) -> Path:
    """Bars per group, with ± error bars, `n=` under each bar and an optional labelled reference line."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(WIDTH_IN, HEIGHT_IN + 0.4))
    heights = [float("nan") if v is None else v for v in values]
    yerr = [0.0 if e is None else e for e in errors] if errors is not None else None
    bars = axes.bar(range(len(labels)), heights, yerr=yerr, capsize=3, color="tab:blue", alpha=0.85,
                    label="mean ± std" if errors is not None else None)
    if counts is not None:
        for bar, count in zip(bars, counts):
            axes.annotate(f"n={count}", (bar.get_x() + bar.get_width() / 2, 0), xytext=(0, 2),
                          textcoords="offset points", ha="center", va="bottom", fontsize=7, color="white")
    if reference is not None:
        axes.axhline(reference[0], color="tab:red", linestyle="--", linewidth=1.0, label=reference[1])
    slanted = max(map(len, labels), default=0) > 12
    axes.set_xticks(range(len(labels)), labels, rotation=20 if slanted else 0, ha="right" if slanted else "center")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title, loc="left")
    axes.grid(True, axis="y", linewidth=0.4, alpha=0.5)
    legend = errors is not None or reference is not None
    if legend:
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(plt, figure, path, bottom=0.3 if slanted else 0.19, legend=legend)
