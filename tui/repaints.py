"""The repaints of one redraw, composited at its end instead of each going through its widget's message queue.

Textual repaints a widget that called `refresh()` in three hops: the widget's
message task wakes to an idle event and posts an update to its screen, whose
task wakes and starts its update timer, whose task wakes and composites. A
redraw that changes six widgets woke eight tasks for one paint, a sixth of the
main thread at 10 redraws a second. Inside `collected(screen)` a line widget
whose lines changed marks them as Textual would and is handed over here; when
the redraw is done they are composited at once, as the screen's update timer
would a moment later, together with any repaint Textual had already queued
(the compositor's pass clears that queue). Under a dialog the screen's
compositor hands the regions to the screen on top, as Textual's own pass does.
When anything else waits for Textual's own pass (a layout, a scroll, a style
change, a batch) or the screen is not shown, the widgets go Textual's way, as
if they had called `refresh()`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from textual.geometry import Region
from textual.screen import Screen
from textual.widget import Widget

_collecting: ContextVar[dict[Widget, None] | None] = ContextVar("rigscope_repaints", default=None)


@contextmanager
def collected(screen: Screen[Any]) -> Iterator[None]:
    """Repaint what changed inside the block once it ends, in one pass of `screen`'s compositor."""
    widgets: dict[Widget, None] = {}
    token = _collecting.set(widgets)
    try:
        yield
    finally:
        _collecting.reset(token)
        if widgets:
            composite(screen, list(widgets))


def refresh(widget: Widget, regions: Sequence[Region] = ()) -> None:
    """`widget.refresh(*regions)`, composited at the end of the redraw collecting repaints, if one is."""
    widgets = _collecting.get()
    if widgets is None or not widget.is_mounted:
        widget.refresh(*regions)
        return
    widget._layout_cache.clear()  # what `refresh` does, but waking the widget's message task
    widget._set_dirty(*regions)
    widget.clear_cached_dimensions()
    widget._rich_style_cache.clear()
    widgets[widget] = None


def composite(screen: Screen[Any], widgets: list[Widget]) -> None:
    compositor = screen._compositor
    visible = compositor.visible_widgets
    shown = {widget for widget in widgets if widget in visible and not widget._layout_required}
    if (screen.is_current and not screen.app._batch_count and not screen._layout_required
            and not screen._scroll_required and not screen._repaint_required and not screen._recompose_required):
        pending = screen._dirty_widgets  # repaints Textual's own way had queued: this paint takes them too
        if shown or pending:
            compositor.update_widgets(shown | pending)
            screen._compositor_refresh()
    else:
        shown = set()
    for widget in widgets:
        if widget not in shown:  # Textual's way: the widget's idle handler posts the update
            widget._repaint_required = True
            widget.check_idle()
