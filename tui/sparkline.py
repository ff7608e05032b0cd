"""Sparklines as plain strings: values squeezed to a width, drawn with block or ASCII glyphs.

A dashboard redraws the same series several times before it changes (per-second
means redrawn twice a second), so lines drawn from a tuple are memoised.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

BLOCKS = " ▁▂▃▄▅▆▇█"
ASCII = " .:-=+*#%@"
MEMO_SIZE = 128  # lines kept: more than the series on a 160x50 screen, so each is drawn once per change


def resample(values: Sequence[float | None], width: int) -> list[float | None]:
    """`width` points: means of equal slices (fewer values than width are kept as they are, right-aligned)."""
    if width <= 0:
        return []
    count = len(values)
    if count <= width:
        return list(values)
    values = values if isinstance(values, (list, tuple)) else list(values)
    points: list[float | None] = []
    append = points.append
    start = 0
    for column in range(1, width + 1):
        end = column * count // width
        chunk = values[start:end]
        start = end
        if None in chunk:
            chunk = [v for v in chunk if v is not None]
        append(sum(chunk) / len(chunk) if chunk else None)
    return points


def sparkline(values: Sequence[float | None], width: int, low: float = 0.0, high: float | None = None,
              ascii_only: bool = False) -> str:
    """A `width`-character line; gaps (null) are blank, the scale is [low, high] (high: the max seen)."""
    if isinstance(values, tuple):
        return _memoised(values, width, low, high, ascii_only)
    return _draw(values, width, low, high, ascii_only)


def _draw(values: Sequence[float | None], width: int, low: float, high: float | None, ascii_only: bool) -> str:
    glyphs = ASCII if ascii_only else BLOCKS
    points = resample(values, width)
    if high is not None:
        top = high
    else:
        known = [p for p in points if p is not None]
        top = max(known) if known else 1.0
    span = top - low if top > low else 1.0
    levels = len(glyphs) - 1
    lowest = glyphs[1]
    cells: list[str] = []
    append = cells.append
    for point in points:
        if point is None:
            append(" ")
        elif point > low:
            level = round((min(point, top) - low) / span * levels)
            append(glyphs[level] if level > 1 else lowest)
        else:
            append(lowest)
    return " " * (width - len(cells)) + "".join(cells)


_memoised = lru_cache(maxsize=MEMO_SIZE)(_draw)
