"""Text charts with plotext (its 6.x figure API, or the 5.x functions): lines over time and bars.

Charts are returned as strings, so the same chart goes to the terminal or into a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

# Without colours, lines are told apart by their marker.
MARKERS = ("•", "x", "+", "o", "*", "#", "~", "=")


@dataclass
class Chart:
    title: str
    xlabel: str = ""
    ylabel: str = ""
    width: int = 100
    height: int = 20
    colorless: bool = True
    regions: list[tuple[float, float]] = field(default_factory=list)  # shaded spans of x, e.g. collapses
    marks: list[float] = field(default_factory=list)  # vertical lines, e.g. notes
    hline: tuple[float, str] | None = None  # a labelled reference level, e.g. (1.0, "real time")


def _plotext():  # noqa: ANN202 (the module)
    import plotext as plt

    return plt


def lines(chart: Chart, series: Sequence[tuple[str, Sequence[float], Sequence[float | None]]]) -> str:
    """One line per (label, xs, ys); null points are left out."""
    clean = [(label, [x for x, y in zip(xs, ys) if y is not None], [y for y in ys if y is not None])
             for label, xs, ys in series]
    clean = [item for item in clean if item[1]]
    if not clean:
        return f"{chart.title}: no data"
    plt = _plotext()
    if hasattr(plt, "plot"):  # plotext 5
        plt.clear_figure()
        for label, xs, ys in clean:
            plt.plot(xs, ys, label=label)
        for start, end in chart.regions:
            plt.vertical_line(start, "red")
            plt.vertical_line(end, "red")
        for x in chart.marks:
            plt.vertical_line(x, "blue")
        return _finish5(plt, chart)
    figure = plt.figure
    figure.clear()
    low = min(min(ys) for _, _, ys in clean)
    high = max(max(ys) for _, _, ys in clean)
    for i, (label, xs, ys) in enumerate(clean):
        signal = figure.signal(list(xs), list(ys), marker=MARKERS[i % len(MARKERS)] if chart.colorless else None)
        signal.label(label)
        signal.lines()
        figure.draw(signal)
    for i, (start, end) in enumerate(chart.regions):
        figure.draw(figure.rectangle(x=(start, end), y=(low, high), fill=False,
                                     label="collapse" if i == 0 else None))
    for i, x in enumerate(chart.marks):
        figure.line(x, orientation=1, relative=False, label="note" if i == 0 else None)
    return _finish6(figure, chart)


def bars(chart: Chart, labels: Sequence[str], values: Sequence[float | None]) -> str:
    """One bar per label (nulls as 0, labelled with the value)."""
    if not labels:
        return f"{chart.title}: no data"
    heights = [v if v is not None else 0.0 for v in values]
    plt = _plotext()
    if hasattr(plt, "plot"):  # plotext 5
        plt.clear_figure()
        plt.bar(list(labels), heights)
        return _finish5(plt, chart)
    figure = plt.figure
    figure.clear()
    figure.draw(figure.bar(list(labels), heights, labeled=[f"{h:.3g}" for h in heights]))
    return _finish6(figure, chart)


def _finish6(figure, chart: Chart) -> str:  # noqa: ANN001 (plotext's figure object)
    if chart.hline is not None:
        figure.line(chart.hline[0], orientation=0, relative=False, label=chart.hline[1])
    figure.title(chart.title)
    if chart.xlabel:
        figure.label(chart.xlabel, axis=0)
    if chart.ylabel:
        figure.label(chart.ylabel, axis=1)
    figure.plot_size(chart.width, chart.height)
    if chart.colorless:
        figure.theme("colorless")
    return str(figure.build().string(colorless=chart.colorless))


def _finish5(plt, chart: Chart) -> str:  # noqa: ANN001 (the plotext module)
    if chart.hline is not None:
        plt.horizontal_line(chart.hline[0])
    plt.title(chart.title)
    plt.xlabel(chart.xlabel)
    plt.ylabel(chart.ylabel)
    plt.plotsize(chart.width, chart.height)
    if chart.colorless:
        plt.theme("clear")
    return str(plt.build())
