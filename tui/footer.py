"""The key bar at the bottom: whole keys, in their order, as many as the width holds.

Textual's footer lays its keys out in a row and cuts the last one that overflows mid-word
(`+/- Wind`); this one shows the keys that fit whole, and hides the rest, at every width
(closer together under 130 columns).
The screen puts help and quit first (`DashboardScreen.active_bindings`), so they always show.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

COMPACT_BELOW = 130  # columns: narrower, one space between keys instead of two (every key fits at 120)


class FittedFooter(Footer):
    """A footer that hides, whole, the keys past its width (they stay in `?` and the command palette)."""

    async def recompose(self) -> None:
        await super().recompose()  # the keys change with the focus and the screen's bindings
        self.fit()

    def on_resize(self) -> None:
        self.fit()

    def fit(self) -> None:
        compact = self.size.width < COMPACT_BELOW
        if compact != self.compact:  # the keys' padding changes: measure them once restyled
            self.compact = compact
            self.call_after_refresh(self.fit)
            return
        room = self.size.width
        for key in self.query(FooterKey):  # a long key that does not fit leaves its room to the shorter ones after it
            width = key.get_content_width(Size(0, 0), self.app.size) + key.styles.margin.width
            key.display = width <= room
            room -= width if key.display else 0
