"""Text turned into cached Strips once per change, so a redraw costs the compositor a lookup.

Widgets that show a Text which changes a few times a second render through the
line API: `render_line` hands back strips built when the text was set, instead
of Textual converting and wrapping the Text on every refresh.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget


class StripText(Widget):
    """Shows one Text through the line API, from strips cut when the text is set."""

    def __init__(self, text: Text | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._text = text or Text()
        self._strips: list[Strip] = []

    def show_text(self, text: Text, width: int | None = None) -> None:
        """Show `text`; lines equal to the ones shown before keep their strips (and are not redrawn)."""
        width = width or self.content_region.width
        old_lines = self._text.split("\n", allow_blank=True) if self._strips else []
        self._text = text
        strips: list[Strip] = []
        changed: list[int] = []
        for y, line in enumerate(text.split("\n", allow_blank=True)):
            if (y < len(old_lines) and y < len(self._strips) and self._strips[y].cell_length == width
                    and old_lines[y].plain == line.plain and old_lines[y].spans == line.spans):
                strips.append(self._strips[y])
            else:
                strips.extend(text_strips(line, self.app.console, width))
                changed.append(y)
        shrunk = len(strips) < len(self._strips)  # the lines below the new end must be blanked too
        self._strips = strips
        if changed and len(changed) < len(strips) and not shrunk:
            top = self.styles.padding.top  # lines are counted in content space
            self.refresh(*(Region(0, top + y, self.size.width, 1) for y in changed))
        elif changed or shrunk:
            self.refresh()

    def render(self) -> Text:
        """The text shown (what `render_line` draws, cut to the widget's width)."""
        return self._text

    def render_line(self, y: int) -> Strip:
        width = self.content_region.width
        return fit(self._strips[y], width) if y < len(self._strips) else blank(width)


def text_strips(text: Text, console: Console, width: int) -> list[Strip]:
    """One strip per line of `text`, cropped or padded to `width` (no wrapping)."""
    strips = []
    for line in text.split("\n", allow_blank=True):
        line.truncate(width, pad=True)  # exactly `width` cells, so the strip needs no cropping
        # Every segment gets a style: Textual's filters (NO_COLOR, dim) expect one.
        segments = [Segment(s.text, s.style or NULL) for s in line.render(console) if s.text != "\n"]
        strips.append(Strip(segments, width))
    return strips


def fit(strip: Strip, width: int) -> Strip:
    return strip if strip.cell_length == width else strip.crop_extend(0, width, NULL)


def blank(width: int) -> Strip:
    return Strip([Segment(" " * width, NULL)], width)


NULL = Style.null()
