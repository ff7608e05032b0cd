"""`rigscope correlate SESSION METRIC [--json]`: a rich table and a plotext chart of a metric against collapses."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from typing import Any

from recordings.correlate import correlate
from recordings.inert import inert
from recordings.session import resolve_session, sessions_dir


def _number(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}g}" if abs(value) >= 1e4 else f"{value:.{digits}f}"


def _group(stats: dict[str, Any]) -> str:
    return f"{stats['points']} · {_number(stats['mean'])} · {_number(stats['max'])}"


def _table(result: dict[str, Any]) -> Any:
    from rich.table import Table
    from rich.text import Text

    # Text, not markup: a metric is named by the workload (`acc[top1]`, `x[/]`)
    table = Table(title=Text(f"{inert(result['metric'])} around collapses — {inert(result['session'])} "
                             f"({result['points']} points{'; still recording: so far' if result['recording'] else ''})"))
    for header in ("device", "collapses", "inside: n · mean · max", "outside: n · mean · max", "r at 0 s",
                   "strongest r (lag)"):
        table.add_column(header, justify="left" if header == "device" else "right")
    for device in result["devices"]:
        best = device["best"]
        zero = next((lag["r"] for lag in device["lags"] if lag["lag_s"] == 0), None)
        collapses = "—" if device["collapses"] is None else str(device["collapses"])
        table.add_row(Text(inert(device["device"])), collapses, _group(device["inside"]), _group(device["outside"]),
                      _number(zero, 2), "—" if best is None else f"{best['r']:.2f} ({best['lag_s']:+d} s)")
    return table


def _chart(result: dict[str, Any], width: int) -> str:
    """The correlation against the lag, one line per device (plotext 6's figure API, or 5's functions)."""
    import plotext as plt

    lines = [(device["device"], [(lag["lag_s"], lag["r"]) for lag in device["lags"] if lag["r"] is not None])
             for device in result["devices"]]
    lines = [(name, points) for name, points in lines if points]
    if not lines:
        return "no lag has a correlation (too few overlapping points, or a constant series)"
    title = f"correlation of {inert(result['metric'])} with rle_smoothed by lag"
    xlabel = "lag (s); > 0: the metric leads"
    colorless = not sys.stdout.isatty()
    size = (min(width, 100), 18)
    if hasattr(plt, "plot"):  # plotext 5
        plt.clear_figure()
        for name, points in lines:
            plt.plot([p[0] for p in points], [p[1] for p in points], label=name)
        plt.ylim(-1, 1)
        plt.title(title)
        plt.xlabel(xlabel)
        plt.plotsize(*size)
        if colorless:
            plt.theme("clear")
        return str(plt.build())
    figure = plt.figure
    figure.clear()
    for name, points in lines:
        signal = figure.signal([p[0] for p in points], [p[1] for p in points])
        signal.label(name)
        signal.lines()
        figure.draw(signal)
    figure.title(title)
    figure.label(xlabel, axis=0)
    figure.ruler(1).lim(-1, 1)
    figure.plot_size(*size)
    if colorless:
        figure.theme("colorless")
    return str(figure.build().string(colorless=colorless))


def run(args: argparse.Namespace) -> int:
    session = resolve_session(args.session, sessions_dir(args.dir))
    result = correlate(session, args.metric)
    if args.json:
        json.dump(result, sys.stdout, indent=1)
        print()
        return 0
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 110)  # piped: wide enough not to wrap the table
    console.print(_table(result))
    print(_chart(result, shutil.get_terminal_size((100, 24)).columns))
    console.print(f"[dim]{result['lag_meaning']}; inside = points whose sample has the collapse flag set[/dim]")
    return 0
