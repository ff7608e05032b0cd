"""A custom metric laid over a device's RLE sparkline: the metric as a background shade behind each cell,
collapse cells in red (the grad-norm overlay).

The RLE glyphs stay what they are without the overlay; each cell's background is
the metric in that cell's slice of time (its largest value there, see
`tui.probe_data.column_values`), scaled between the smallest and largest shown,
and cells where the device was in a collapse are drawn red.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from collectors.schema import column
from tui.probe_data import MetricsView, column_values
from tui.sparkline import resample, sparkline

TIME = "ts"  # the feed's series of sample times (µs), the overlay's time axis
SHADES = ("#2b1630", "#46204f", "#642b72", "#853896", "#a946bd", "#d05ae6")
NORMAL, COLLAPSE = "green", "bold red"


def collapse_column(prefix: str) -> str:
    return column(prefix, "collapse")


def overlay_names(prefixes: Sequence[str]) -> list[str]:
    """The series an overlay needs beside the panels' own: the sample times and each device's collapse flag."""
    return [TIME, *(collapse_column(prefix) for prefix in prefixes)]


def overlay_line(rle: Sequence[float | None], times: Sequence[float | None], collapse: Sequence[float | None],
                 metrics: MetricsView, name: str, width: int, high: float, ascii_only: bool) -> Text:
    """The RLE sparkline of `width` cells, the metric `name` shaded behind it, collapse cells red."""
    glyphs = sparkline(rle, width, 0, high, ascii_only)
    shown = column_values(metrics, name, times, width)
    known = [v for v in shown if v is not None]
    low, top = (min(known), max(known)) if known else (0.0, 1.0)
    span = top - low
    flags = resample(collapse, width)
    pad = width - len(shown)
    styles = []
    for cell in range(len(glyphs)):
        column = cell - pad
        style = COLLAPSE if 0 <= column < len(flags) and (flags[column] or 0) > 0 else NORMAL
        value = shown[column] if 0 <= column < len(shown) else None
        if value is not None:
            level = round((value - low) / span * (len(SHADES) - 1)) if span > 0 else len(SHADES) // 2
            style = f"{style} on {SHADES[level]}"
        styles.append(style)
    line = Text()
    run_start = 0
    for cell in range(1, len(glyphs) + 1):  # one append per run of the same style
        if cell == len(glyphs) or styles[cell] != styles[run_start]:
            line.append(glyphs[run_start:cell], style=styles[run_start])
            run_start = cell
    return line
