"""A line widget's finished lines (padding, background and the app's colour filters applied), kept per line until
its strip changes.

Textual finishes each line a widget renders in its style cache: it looks up
the border, outline, tint, opacity and hatch of the widget for every line, pads
it, rebuilds the strip, and runs the app's filters over every line asked for,
changed or not; some 25 µs a changed line, which at a few dozen changed lines
per redraw was a sixth of the dashboard's main thread. A widget with none of
those decorations needs only its padding, its background and the filters: this
does that much, once per changed line, and hands back the same finished strip
while the line's strip is the same object. Anything else (a border, a tint, an
opacity, a hatch) goes the whole way through Textual.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.segment import Segment
from textual._segment_tools import line_pad
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

NO_EDGE = ("", "", "", "")
PADDING = Strip([])  # what a padding row is drawn from


def plainly_styled(widget: Widget) -> bool:
    """Whether Textual would only pad a line of `widget`, give it its background and filter it."""
    styles = widget.styles
    return (tuple(edge for edge, _ in styles.border) == NO_EDGE and tuple(edge for edge, _ in styles.outline) == NO_EDGE
            and not styles.tint.a and widget.opacity == 1.0 and styles.text_opacity == 1.0
            and not (styles.has_rule("hatch") and styles.hatch != "none")
            and widget._border_title is None and widget._border_subtitle is None)


class FinishedLines:
    """The finished lines of one widget, by row, each with the strip it was finished from."""

    def __init__(self) -> None:
        self._key: tuple[Any, ...] = ()
        self._rows: dict[int, tuple[Strip | None, Strip]] = {}

    def render(self, widget: Widget, crop: Region, source: Callable[[int], Strip | None],
               content_line: Callable[[int], Strip]) -> list[Strip]:
        """`widget`'s lines in `crop`, as Textual's style cache renders them. `source(y)` is the strip content row
        `y` is drawn from (None for a row left blank); `content_line(y)` is that row as `render_line` gives it."""
        base_background, background = widget.background_colors
        filters: Sequence[Any] = widget.get_line_filters()
        width, height = widget.outer_size  # the region's size, without finding the widget in the screen's map
        padding = widget.styles.padding
        content_width = max(0, width - widget.styles.gutter.width)
        key = (width, height, tuple(padding), content_width, base_background, background, tuple(filters))
        if key != self._key:
            self._key, self._rows = key, {}
        rows = self._rows
        inner = widget._styles_cache.get_inner_outer(base_background, background)[0].rich_style
        pad_top, pad_right, pad_bottom, pad_left = padding
        content_height = height - pad_top - pad_bottom
        lines: list[Strip] = []
        for y in crop.line_range:
            content_y = y - pad_top
            drawn = source(content_y) if 0 <= content_y < content_height else PADDING
            kept = rows.get(y)
            if kept is None or kept[0] is not drawn:
                if drawn is PADDING:
                    segments = [Segment(" " * width, inner)]
                else:
                    content = content_line(content_y).adjust_cell_length(content_width, inner)
                    segments = line_pad(content, pad_left, pad_right, inner)
                for line_filter in filters:  # on the segments: one strip per line, not one per step
                    segments = line_filter.apply(segments, background)
                kept = rows[y] = (drawn, Strip(segments, width))
            lines.append(kept[1])
        if crop.column_span != (0, width):
            x1, x2 = crop.column_span
            lines = [line.crop(x1, x2) for line in lines]
        return lines
