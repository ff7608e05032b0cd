"""`rigscope replay`'s app: the rigscope app whose dashboard is a replay screen on a recording."""

from __future__ import annotations

from tui.app import RigscopeApp
from tui.dashboard import DashboardScreen
from tui.replay_screen import ReplayScreen


class ReplayApp(RigscopeApp):
    def make_dashboard(self) -> DashboardScreen:
        return ReplayScreen(self.source, self.options)

    def on_mount(self) -> None:  # Textual runs RigscopeApp's on_mount too (each class's handler, base first)
        self.say_compacted(self.source)  # opened from `rigscope replay`'s picker
