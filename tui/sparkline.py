"""Sparklines as plain strings: values squeezed to a width, drawn with block or ASCII glyphs."""

from __future__ import annotations

from collections.abc import Sequence

BLOCKS = " ▁▂▃▄▅▆▇█"
ASCII = " .:-=+*#%@"


def resample(values: Sequence[float | None], width: int) -> list[float | None]:
    """`width` points: means of equal slices (fewer values than width are kept as they are, right-aligned)."""
    if width <= 0:
        return []
    count = len(values)
    if count <= width:
        return list(values)
    points: list[float | None] = []
    for column in range(width):
        start, end = column * count // width, (column + 1) * count // width
        chunk = [v for v in values[start:end] if v is not None]
        points.append(sum(chunk) / len(chunk) if chunk else None)
    return points


def sparkline(values: Sequence[float | None], width: int, low: float = 0.0, high: float | None = None,
              ascii_only: bool = False) -> str:
    """A `width`-character line; gaps (null) are blank, the scale is [low, high] (high: the max seen)."""
    glyphs = ASCII if ascii_only else BLOCKS
    points = resample(values, width)
    known = [p for p in points if p is not None]
    top = high if high is not None else (max(known) if known else 1.0)
    span = top - low if top > low else 1.0
    levels = len(glyphs) - 1
    cells = []
    for point in points:
        if point is None:
            cells.append(" ")
        else:
            level = round((min(max(point, low), top) - low) / span * levels)
            cells.append(glyphs[max(1, level)] if point > low else glyphs[1])
    return " " * (width - len(cells)) + "".join(cells)
