"""Textual's compositor, asking only the widgets that paint inside an update for their lines.

For a partial update Textual renders every visible widget whose *clip* (its
container's region) meets the updated area, whole: a bar docked on row 0 or 48,
the footer, the side column, each has the screen or a wide container as its
clip, so a redraw that changed three panel rows also rendered those five
widgets' every line, then threw them away (a sixth of the main thread at 10
redraws a second). Here a widget counts when what it paints, its region cut to
its clip, meets the update; what it renders is the same as Textual's.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual._compositor import Compositor
from textual.geometry import Region
from textual.strip import Strip


class LeanCompositor(Compositor):
    def _get_renders(self, crop: Region | None = None) -> Iterable[tuple[Region, Region, list[Strip]]]:
        if crop is None:  # a full update: every widget, as Textual does
            yield from super()._get_renders(crop)
            return
        overlaps = crop.overlaps
        for widget, (region, clip) in list(self.visible_widgets.items()):
            painted = region.intersection(clip)
            if painted.width and painted.height and overlaps(painted):
                yield region, clip, widget.render_lines(
                    Region(painted.x - region.x, painted.y - region.y, painted.width, painted.height))
