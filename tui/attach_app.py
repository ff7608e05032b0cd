"""The dashboard attached to a running recorder (`rigscope attach`, `rigscope serve`).

The same screen as live, on an attach source (rigscope.attach_source): keys that
act on the session go to the recorder.  `r` asks the recorder to stop recording
(after a confirmation; off when read-only).  When the recorder stops or dies the
screen says so, stays up, and offers the session in replay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from textual.binding import Binding

from tui.app import RigscopeApp
from tui.dashboard import DashboardScreen
from tui.screens import ConfirmScreen
from tui.source import DashboardSource


class AttachedSource(DashboardSource, Protocol):
    """What the attached screen reads besides a dashboard source's (rigscope.attach_source.AttachSource)."""

    session_id: str
    folder: Path | None  # the session's folder, for the replay offered when the recorder ends
    readonly: bool
    gone: str | None  # "stopped" or "died" once the recorder ended; None while attached


class AttachedScreen(DashboardScreen):
    # q leaves the recorder running and r stops it: the footer and the help say so
    BINDINGS = [Binding("q", "quit", "Detach") if b.key == "q" else Binding("r", "record", "Stop rec")
                if b.key == "r" else b for b in DashboardScreen.BINDINGS if isinstance(b, Binding)]
    events_hint = "none since attaching: n adds a note to the recorder's session"

    def __init__(self, source: AttachedSource, options: Any = None) -> None:
        super().__init__(source, options)
        self.source: AttachedSource = source
        self._told_gone = False

    def redraw(self, force: bool = False) -> None:
        super().redraw(force)
        if self.source.gone and not self._told_gone and self.app.is_running:
            self._told_gone = True
            self.call_after_refresh(self._offer_replay)

    def _offer_replay(self) -> None:
        folder: Path | None = self.source.folder
        if folder is None:
            return
        ended = "stopped" if self.source.gone == "stopped" else "is gone"

        def answer(yes: bool | None) -> None:
            if yes:
                self.app.replay_session(folder)  # type: ignore[attr-defined]

        self.app.clear_notifications()  # the dialog says what the toast of the notice said, where the toast covered it
        self.app.push_screen(ConfirmScreen(f"The recorder {ended}.", f"Open {folder.name} in replay?"), answer)

    def action_record(self) -> None:
        if self.source.readonly:
            self.notify(self.source.toggle_recording(), severity="warning")
            return
        if self.source.gone:
            self.notify("the recorder is gone", severity="warning")
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.notify(self.source.toggle_recording())

        self.app.push_screen(ConfirmScreen("Stop the recording?",
                                           f"The recorder closes {self.source.session_id} and ends."), answer)


class AttachApp(RigscopeApp):
    TITLE = "rigscope attach"

    def make_dashboard(self) -> DashboardScreen:
        return AttachedScreen(self.source, self.options)  # type: ignore[arg-type]  # built on an AttachSource

    def replay_session(self, folder: Path) -> None:
        """The attached session, now ended, in replay over the dashboard."""
        self.open_replay(folder)
