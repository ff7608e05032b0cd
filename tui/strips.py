"""Text turned into cached Strips once per change, so a redraw costs the compositor a lookup.

Widgets that show a Text which changes a few times a second render through the
line API: `render_line` hands back strips built when the text was set, instead
of Textual converting and wrapping the Text on every refresh.  A widget whose
lines are simple runs of styled text (a sparkline row) may hand over strips it
built itself from those runs (`runs_row`): no rich Text is built, compared or
cut for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from tui import repaints
from tui.finished_lines import FinishedLines, plainly_styled

Row: TypeAlias = Text | Strip  # a line to show: text cut into a strip here, or a strip built by its widget


class StripText(Widget):
    """Shows lines of Text through the line API, from strips cut when the lines are set."""

    def __init__(self, text: Text | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shown: list[Row] = list((text or Text()).split("\n", allow_blank=True))
        self._strips: list[Strip] = []
        self._finished = FinishedLines()

    def show_text(self, text: Text, width: int | None = None) -> None:
        """Show `text`; lines equal to the ones shown before keep their strips (and are not redrawn)."""
        self._show(list(text.split("\n", allow_blank=True)), width)

    def show_lines(self, lines: Sequence[Row], width: int | None = None) -> None:
        """Show one Text per line (none holding a newline) as `show_text(Text("\\n").join(lines))` would,
        without joining and splitting them: a line's own style covers its characters, not the padding.
        A Strip among them is shown as it is (blank beyond its end); it counts as unchanged only when it is
        the very strip shown before, so its widget keeps the strips of its unchanged lines."""
        self._show([own_style_as_span(line) if isinstance(line, Text) else line for line in lines], width)

    def _show(self, lines: list[Row], width: int | None) -> None:
        width = width or self.content_width
        cells = self.line_cells(width)
        old_lines, old_strips = self._shown, self._strips
        strips: list[Strip] = []
        changed: list[int] = []
        for y, line in enumerate(lines):
            if y < len(old_strips) and y < len(old_lines) and old_strips[y].cell_length == cells and same(old_lines[y], line):
                strips.append(old_strips[y])
            else:
                strips.append(fit(line, cells) if isinstance(line, Strip) else line_strip(line, self.app.console, width, cells))
                changed.append(y)
        shrunk = len(strips) < len(old_strips)  # the lines below the new end must be blanked too
        self._shown, self._strips = lines, strips
        if changed and len(changed) < len(strips) and not shrunk:
            top = self.styles.padding.top  # lines are counted in content space
            full = self.content_width
            repaints.refresh(self, [Region(0, top + y, full, 1) for y in changed])
        elif changed or shrunk:
            repaints.refresh(self)

    def line_cells(self, width: int) -> int:
        """Cells of a line laid out in `width`: the whole content width (blank beyond `width`), so that drawing a
        line never extends it."""
        return max(width, self.content_width)

    @property
    def content_width(self) -> int:
        """`content_region.width`, from the size the widget was laid out at: Textual finds the widget in the
        screen's map for its region (some 2 µs), and a redraw asks for this width dozens of times."""
        return max(0, self.outer_size.width - self.styles.gutter.width)

    def render(self) -> Text:
        """The text shown (what `render_line` draws, cut to the widget's width)."""
        return Text("\n").join(line if isinstance(line, Text) else strip_as_text(line) for line in self._shown)

    def render_line(self, y: int) -> Strip:
        width = self.content_width
        return fit(self._strips[y], width) if y < len(self._strips) else blank(width)

    def render_lines(self, crop: Region) -> list[Strip]:
        """Textual's lines, finished here from the strips that changed where nothing but padding, background and
        the app's filters is to be applied to them (see tui/finished_lines.py)."""
        if not plainly_styled(self):
            return super().render_lines(crop)
        strips = self._strips
        return self._finished.render(self, crop, lambda y: strips[y] if y < len(strips) else None, self.render_line)


def same(old: Row, new: Row) -> bool:
    """Whether a line drawn before can keep its strip: the same Text, or the very same Strip."""
    if old is new:
        return True
    return isinstance(old, Text) and isinstance(new, Text) and old.plain == new.plain and old.spans == new.spans


def strip_as_text(strip: Strip) -> Text:
    """A strip's characters and styles as a Text, without the blank it was padded with."""
    text = Text.assemble(*((segment.text, segment.style or NULL) for segment in strip))
    text.rstrip()
    return text


def cells_strip(runs: Sequence[tuple[str, Style]], width: int, cells: int) -> Strip | None:
    """Runs of (characters, style) laid out in `width` as a strip of `cells` (blank after the last run); None
    where they do not fit, for the caller to lay the line out as a Text instead (cut with an ellipsis)."""
    used = sum(cell_len(chars) for chars, _ in runs)
    if used > width:
        return None
    segments = [Segment(chars, style) for chars, style in runs if chars]
    cells = max(cells, width)
    if used < cells:
        segments.append(Segment(" " * (cells - used), NULL))
    return Strip(segments, cells)


def runs_row(runs: Sequence[tuple[str, Style]], width: int, cells: int) -> Row:
    """Runs of (characters, style) as a row: a strip of `cells` built from them where they fit in `width`, else
    a Text of them cut there with an ellipsis."""
    strip = cells_strip(runs, width, cells)
    if strip is not None:
        return strip
    line = Text.assemble(*runs)
    line.truncate(width, overflow="ellipsis")
    return line


def own_style_as_span(line: Text) -> Text:
    """`line` with its own style as its first span, as `Text.join` leaves each line it joins."""
    if not line.style:
        return line
    return Text(line.plain, spans=[Span(0, len(line), line.style), *line.spans])


def line_strip(line: Text, console: Console, width: int, cells: int | None = None) -> Strip:
    """One line of text (no newline in it) as a strip, cropped or padded to `width` (no wrapping),
    then blank up to `cells`."""
    used = line.cell_len
    if line.style or used > width:  # a line's own style covers its padding too
        line = line.copy()  # the caller's line stays as it was: it is compared with the next one
        line.truncate(width, pad=True)
        used = width
    # Every segment gets a style: Textual's filters (NO_COLOR, dim) expect one.
    segments = segments_of(line, console)
    width = max(width, cells or 0)
    if used < width:
        pad = " " * (width - used)
        if segments and segments[-1].style is NULL:
            segments[-1] = Segment(segments[-1].text + pad, NULL)
        else:
            segments.append(Segment(pad, NULL))
    return Strip(segments, width)


def segments_of(line: Text, console: Console) -> list[Segment]:
    """What `line.render(console)` gives (every segment styled), without its style stack where the spans of the
    line follow one another without overlapping and the line has no style of its own (every panel line)."""
    text, spans = line.plain, line.spans
    if line.style or any(b.start < a.end for a, b in zip(spans, spans[1:])):
        return [Segment(s.text, s.style or NULL) for s in line.render(console) if s.text != "\n"]
    segments: list[Segment] = []
    append = segments.append
    position = 0
    for span in spans:
        if span.end <= span.start:
            continue
        if span.start > position:
            append(Segment(text[position:span.start], NULL))
        append(Segment(text[span.start:span.end], console.get_style(span.style, default=NULL) or NULL))
        position = span.end
    if position < len(text):
        append(Segment(text[position:], NULL))
    return segments


def fit(strip: Strip, width: int) -> Strip:
    return strip if strip.cell_length == width else strip.crop_extend(0, width, NULL)


def blank(width: int) -> Strip:
    return Strip([Segment(" " * width, NULL)], width)


NULL = Style.null()
