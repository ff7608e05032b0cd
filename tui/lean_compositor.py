"""Textual's compositor, asking a widget only for the rows of an update on which something it paints shows.

Textual fills each screen row front to back, and the first widget to cover a
cell wins; yet for a partial update it renders, whole, every visible widget
whose *clip* (its container's region) meets the updated area: the bars, the
footer, the side column, and the containers under the panels, whose every cell
a panel covers. At 2 redraws a second that was some 280 rendered lines (each
through Textual's style cache and colour filter) to repaint some 30.

Which widget shows on which row depends only on the layout, so it is worked
out once per layout (`paint_plan`); an update then asks each widget for the
rows on which it shows and an updated span meets it, and fills the screen from
those lines exactly as Textual does. Every cut of an updated row is filled (the
screen, back-most, covers it all).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from textual._compositor import ChopsUpdate, Compositor
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget


@dataclass(frozen=True, slots=True)
class Showing:
    """Where one widget shows: what it paints (its region cut to its clip), and for each screen row on which a
    cell of it is not hidden by a widget in front, the cuts it spans there and where its line divides."""

    region: Region
    painted: Region
    rows: dict[int, tuple[list[int], list[int]]]


def paint_plan(cuts: Sequence[Sequence[int]], visible: Mapping[Widget, tuple[Region, Region]]) -> dict[Widget, Showing]:
    """Each visible widget that shows somewhere, front to back as `visible` orders them."""
    filled: list[set[int]] = [set() for _ in cuts]
    plan: dict[Widget, Showing] = {}
    for widget, (region, clip) in visible.items():
        painted = region.intersection(clip)
        first, last = painted.column_span
        rows: dict[int, tuple[list[int], list[int]]] = {}
        for y in painted.line_range:
            if not 0 <= y < len(cuts):
                continue
            spanned = [cut for cut in cuts[y] if first <= cut <= last]
            starts = set(spanned[:-1])
            if starts - filled[y]:
                filled[y] |= starts
                rows[y] = (spanned, [cut - first for cut in spanned[1:]])
        if rows:
            plan[widget] = Showing(region, painted, rows)
    return plan


class LeanCompositor(Compositor):
    _plan_for: tuple[object, object] | None = None
    _plan: dict[Widget, Showing]

    def paint_plan(self) -> dict[Widget, Showing]:
        """`paint_plan` of the current layout (Textual makes new cuts and visible widgets when it changes)."""
        cuts, visible = self.cuts, self.visible_widgets
        if self._plan_for is None or self._plan_for[0] is not cuts or self._plan_for[1] is not visible:
            self._plan = paint_plan(cuts, visible)
            self._plan_for = (cuts, visible)
        return self._plan

    def render_partial_update(self) -> ChopsUpdate | None:
        """Textual's partial update; a widget is asked for a row only where an updated span of it meets the
        widget (a panel's changed row is not a reason to render the side column beside it)."""
        updates = self._dirty_regions.copy()
        self._dirty_regions.clear()
        if not updates:
            return None
        spans = list(self._regions_to_spans(updates))
        extents: dict[int, tuple[int, int]] = {}
        for y, x1, x2 in spans:  # each row's spans, as the one range from the first to the last
            lo, hi = extents.get(y, (x1, x2))
            extents[y] = (min(lo, x1), max(hi, x2))
        return ChopsUpdate(self._chops(extents), spans, [cut_set[1:] for cut_set in self.cuts])

    def _render_chops(self, crop: Region, is_rendered_line: Callable[[int], bool]) -> Sequence[Mapping[int, Strip]]:
        """The whole screen, or the rows of `crop` (`render_full_update`, `render_strips`)."""
        x1, x2 = crop.column_span
        return self._chops({y: (x1, x2) for y in crop.line_range if is_rendered_line(y)})  # type: ignore[return-value]

    def _chops(self, extents: Mapping[int, tuple[int, int]]) -> list[dict[int, Strip | None]]:
        """Each screen row's pieces by cut, filled front to back where the row's update extent (x1, x2) meets
        the widget; the rows not in `extents` are left empty."""
        chops: list[dict[int, Strip | None]] = [dict.fromkeys(cut_set[:-1]) for cut_set in self.cuts]
        for widget, showing in self.paint_plan().items():
            first, last = showing.painted.column_span
            rows = [y for y in showing.rows if (extent := extents.get(y)) and extent[0] < last and first < extent[1]]
            if not rows:
                continue
            top, bottom = rows[0], rows[-1]
            region, painted = showing.region, showing.painted
            strips = widget.render_lines(Region(painted.x - region.x, top - region.y, painted.width, bottom - top + 1))
            asked = set(rows)
            for y, strip in zip(range(top, bottom + 1), strips):
                if y not in asked:
                    continue
                spanned, divide_at = showing.rows[y]
                line = chops[y]
                for cut, piece in zip(spanned, strip.divide(divide_at)):
                    if line.get(cut) is None:
                        line[cut] = piece
        return chops
