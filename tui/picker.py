"""The session picker: a table of recorded sessions; typing filters it, Enter opens the chosen one.

`PickerScreen` is what `o` pushes over a running dashboard; `PickerApp` is the same
screen on its own, for `rigscope replay` without a session.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label

from recordings.inert import inert
from tui import format as fmt

COLUMNS = ("start", "id", "host", "tier", "duration", "samples", "collapses", "notes", "status")


def row_cells(row: dict[str, Any]) -> tuple[str, ...]:
    duration = row.get("duration_s")
    status = str(row.get("status") or "")
    if row.get("error"):  # a session that cannot open says why, in the table (paths inside it made relative)
        status = f"{status}: {str(row['error']).replace(str(row.get('path')) + '/', '')}"
    return (
        str(row.get("start") or "")[:19].replace("T", " "),
        str(row.get("id") or ""),
        str(row.get("host") or ""),
        str(row.get("tier") or ""),
        fmt.clock(duration) if isinstance(duration, (int, float)) else "—",
        str(row.get("samples") if row.get("samples") is not None else "—"),
        str(row.get("collapses") if row.get("collapses") is not None else "—"),
        str(row.get("notes") or "")[:30],
        status,
    )


class PickerScreen(Screen[str | None]):
    """Dismissed with the path of the chosen session, or None."""

    DEFAULT_CSS = "PickerScreen #help { height: 1; color: $text-muted; } PickerScreen #sessions { height: 1fr; }"
    BINDINGS = [Binding("escape", "close", "Close"), Binding("enter", "open", "Open", priority=True)]

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        super().__init__()
        self.rows = rows
        self.shown: list[dict[str, Any]] = []

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
        self._done(row["path"])

    def action_close(self) -> None:
        self._done(None)

    def _done(self, path: str | None) -> None:
        if self.app.screen_stack[0] is self:  # the picker is the whole app (PickerApp)
            self.app.exit(path)
        else:
            self.dismiss(path)


class PickerApp(App[str | None]):
    """Returns the path of the chosen session, or None."""

    TITLE = "rigscope sessions"

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        super().__init__()
        self.picker = PickerScreen(rows)

    def get_default_screen(self) -> Screen:
        return self.picker
