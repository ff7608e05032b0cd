"""The rigscope app: shows one dashboard screen and opens recorded sessions over it (`o`).

The app only composes and routes: the dashboard screen draws and owns its keys;
opening a session lists the catalog and reads the recording in worker threads,
then pushes a replay screen over the dashboard.  The live source underneath goes
on sampling and recording; closing the replay (Escape or `q`) returns to it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual import constants
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.driver import Driver
from textual.screen import Screen

from collectors import gc_freeze
from recordings.errors import InputError
from tui.dashboard import DEFAULT_PRESETS, DashboardScreen, ViewOptions
from tui.picker import PickerScreen
from tui.quiet_driver import QuietLinuxDriver
from tui.replay_screen import EmbeddedReplayScreen, ReplayScreen
from tui.source import DashboardSource, SessionOpener


class RigscopeApp(App[str]):
    TITLE = "rigscope"
    # Ctrl-C quits cleanly everywhere, dialogs included, as `record` and `run` do (Textual only says "press q")
    BINDINGS = [Binding("ctrl+c", "quit", "Quit", show=False, priority=True)]

    def __init__(self, source: DashboardSource, fps: float = 2.0, ascii_only: bool = False,
                 presets: dict[str, tuple[str, str]] | None = None, window_s: float = 120.0,
                 sessions: SessionOpener | None = None, readonly: bool = False) -> None:
        super().__init__()
        self.source = source
        self.options = ViewOptions(fps, ascii_only, presets or dict(DEFAULT_PRESETS), window_s, readonly)
        self.sessions = sessions
        self.replays: list[Any] = []  # replay sources opened over the dashboard, closed with their screen
        self.dashboard = self.make_dashboard()

    def get_driver_class(self) -> type[Driver]:
        """On Linux and macOS terminals, a driver whose input thread does not wake ten times a second;
        Textual's own elsewhere (Windows, a driver named in TEXTUAL_DRIVER, the browser)."""
        if sys.platform == "win32" or constants.DRIVER:
            return super().get_driver_class()
        return QuietLinuxDriver

    def make_dashboard(self) -> DashboardScreen:
        return DashboardScreen(self.source, self.options)

    def get_default_screen(self) -> Screen:
        return self.dashboard

    def on_mount(self) -> None:
        # What the app made at start-up lives as long as it: out of the full collections.
        self.call_after_refresh(gc_freeze.hold)

    def on_unmount(self) -> None:
        gc_freeze.release()

    # -- opening a recorded session ------------------------------------------
    def open_session_picker(self) -> None:
        if self.sessions is None:
            self.notify("no sessions directory to open from", severity="warning")
            return
        self.run_worker(self._list_sessions, thread=True, exclusive=True, group="sessions")

    def _list_sessions(self) -> None:
        assert self.sessions is not None
        rows = self.sessions.list()
        self.call_from_thread(self._show_picker, rows)

    def _show_picker(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            self.notify(f"no sessions in {self.sessions.root if self.sessions else '?'}", severity="warning")
            return
        self.push_screen(PickerScreen(rows, self.sessions.open if self.sessions else None), self._picked)

    def _picked(self, source: Any) -> None:
        """The replay source the picker opened (it stays open on a session it cannot), or None: closed."""
        if source is not None:
            self._show_replay(source)

    def open_replay(self, path: Path) -> None:
        """The session at `path` in replay over this screen, opened in a worker; one that cannot open is said."""
        self.notify(f"opening {path.name}…", timeout=2)
        self.run_worker(lambda: self._open(path), thread=True, exclusive=True, group="sessions")

    def _open(self, path: Path) -> None:
        assert self.sessions is not None
        try:
            source = self.sessions.open(path)
        except InputError as error:  # a damaged or empty session: say so, stay where we are
            self.call_from_thread(self.notify, str(error), severity="error", timeout=10)
            return
        self.call_from_thread(self._show_replay, source)

    def _show_replay(self, source: Any) -> None:
        self.say_compacted(source)
        self.replays.append(source)
        self.push_screen(EmbeddedReplayScreen(source, self.options), lambda _: self._replay_closed(source))

    def say_compacted(self, source: Any) -> None:
        """What opening `source` did to finish its interrupted session (ls and replay compact one), or why it could
        not: the session's status changed under the user's eyes."""
        compacted = getattr(source, "compacted", None)
        if compacted:
            self.notify(f"{source.label.session_id}: {compacted}", timeout=8, markup=False)

    def _replay_closed(self, source: Any) -> None:
        self.replays.remove(source)
        self.run_worker(source.close, thread=True, group="close-replay")  # joins the player thread
        self.notify("back to live" if not isinstance(self.screen, ReplayScreen) else "back", timeout=2)

    # -- quitting --------------------------------------------------------------
    async def action_quit(self) -> None:
        for source in self.replays:
            source.close()
        self.exit(self.source.close())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, DashboardScreen):
            for action, title, help_text in screen.commands():
                yield SystemCommand(title, help_text, action)
