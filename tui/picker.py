"""The session picker: a table of recorded sessions; typing filters it, Enter opens the chosen one.

`PickerScreen` is what `o` pushes over a running dashboard; `PickerApp` is the same
screen on its own, for `rigscope replay` without a session.  Both open the chosen session
in the picker, so one it cannot open is marked corrupt, with why, and the picker stays.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label

from recordings.errors import InputError
from recordings.inert import inert
from tui import format as fmt

# The status next to the id: on an 80-column terminal the columns past `samples` are off the screen.
COLUMNS = ("start", "id", "status", "host", "tier", "duration", "samples", "collapses", "notes", "why")


def row_cells(row: dict[str, Any]) -> tuple[str, ...]:
    duration = row.get("duration_s")
    # a session that cannot open says why, in the table (paths inside it made relative)
    why = str(row["error"]).replace(str(row.get("path")) + "/", "") if row.get("error") else ""
    return (
        str(row.get("start") or "")[:19].replace("T", " "),
        str(row.get("id") or ""),
        str(row.get("status") or ""),
        str(row.get("host") or ""),
        str(row.get("tier") or ""),
        fmt.clock(duration) if isinstance(duration, (int, float)) else "—",
        str(row.get("samples") if row.get("samples") is not None else "—"),
        str(row.get("collapses") if row.get("collapses") is not None else "—"),
        str(row.get("notes") or "")[:30],
        why,
    )


class PickerScreen(Screen[Any]):
    """Dismissed with the path of the chosen session, or None; with `opener`, the chosen session is opened here
    (InputError: marked corrupt, and the picker stays) and the app exits with what `opener` made of it."""

    DEFAULT_CSS = "PickerScreen #help { height: 1; color: $text-muted; } PickerScreen #sessions { height: 1fr; }"
    BINDINGS = [Binding("escape", "close", "Close"), Binding("enter", "open", "Open", priority=True)]

    def __init__(self, rows: list[dict[str, Any]], opener: Callable[[Path], Any] | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.opener = opener
        self.shown: list[dict[str, Any]] = []
        self._opening = False  # a session is being opened in a worker: Enter waits for it
        self._abandoned = False  # closed while one was opening: what it opens is closed, not shown

    def compose(self) -> ComposeResult:
        yield Label("type to filter · ↑/↓ choose · Enter opens · Escape closes", id="help")
        yield Input(placeholder="filter: id, host, tier, status", id="filter")
        yield DataTable(id="sessions", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        self.fill("")
        self.query_one(Input).focus()

    def fill(self, text: str) -> None:
        table = self.query_one(DataTable)
        table.clear()
        words = text.lower().split()
        self.shown = [r for r in self.rows if all(w in " ".join(row_cells(r)).lower() for w in words)]
        for row in self.shown:
            table.add_row(*(Text(inert(cell)) for cell in row_cells(row)))  # a str cell would be markup

    def on_input_changed(self, event: Input.Changed) -> None:
        self.fill(event.value)

    def on_key(self, event: Any) -> None:
        if event.key in ("up", "down", "pageup", "pagedown"):
            self.query_one(DataTable).focus()

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if not self.shown:
            self.notify("no session matches", severity="warning")
            return
        row = self.shown[min(table.cursor_row, len(self.shown) - 1)]
        if row.get("status") == "corrupt":
            self.notify(row.get("error", "corrupt session"), severity="error")
            return
        if self.opener is None:
            self._done(row["path"])
        elif self._opening:  # a second Enter would open a second source, and dismiss twice
            self.notify("still opening the session chosen first…", timeout=2)
        else:  # the disk is read off the UI thread, as `o` does
            self._opening = True
            self.notify(f"opening {row['id']}…", timeout=2)
            self.run_worker(lambda: self._open(row), thread=True, group="open")

    def _open(self, row: dict[str, Any]) -> None:
        assert self.opener is not None
        try:
            opened = self.opener(Path(row["path"]))
        except InputError as error:
            self._from_thread(self._cannot_open, row, str(error))
            return
        if not self._from_thread(self._opened, opened):
            opened.close()

    def _from_thread(self, callback: Callable[..., None], *args: Any) -> bool:
        """Run `callback` on the UI thread; False when the picker was closed meanwhile (the app may be gone)."""
        if self._abandoned:
            return False
        try:
            self.app.call_from_thread(callback, *args)
        except RuntimeError:  # the app has exited
            return False
        return True

    def _opened(self, opened: Any) -> None:
        self._opening = False
        if self._abandoned:  # Escape came after the worker's look
            self.app.run_worker(opened.close, thread=True, group="close-replay")
        else:
            self._done(opened)

    def _cannot_open(self, row: dict[str, Any], why: str) -> None:
        """Say why, and mark the row as the listing marks a session it finds damaged."""
        self._opening = False
        row.update(status="corrupt", error=why)
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        self.fill(self.query_one(Input).value)
        table.move_cursor(row=cursor)
        self.notify(why, severity="error", timeout=10, markup=False)

    def action_close(self) -> None:
        self._abandoned = True  # a session still opening is closed when it is ready
        self._done(None)

    def _done(self, chosen: Any) -> None:
        if self.app.screen_stack[0] is self:  # the picker is the whole app (PickerApp)
            self.app.exit(chosen)
        else:
            self.dismiss(chosen)


class PickerApp(App[Any]):
    """Returns the path of the chosen session, or None; with `opener`, what it made of the chosen session."""

    TITLE = "rigscope sessions"

    def __init__(self, rows: list[dict[str, Any]], opener: Callable[[Path], Any] | None = None) -> None:
        super().__init__()
        self.picker = PickerScreen(rows, opener)

    def get_default_screen(self) -> Screen:
        return self.picker
