"""The session picker: a table of recorded sessions; typing filters it, Enter opens the chosen one."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Input, Label

from tui import format as fmt

COLUMNS = ("start", "id", "host", "tier", "duration", "samples", "collapses", "status")


def row_cells(row: dict[str, Any]) -> tuple[str, ...]:
    duration = row.get("duration_s")
    return (
        str(row.get("start") or "")[:19].replace("T", " "),
        str(row.get("id") or ""),
        str(row.get("host") or ""),
        str(row.get("tier") or ""),
        fmt.clock(duration) if isinstance(duration, (int, float)) else "—",
        str(row.get("samples") if row.get("samples") is not None else "—"),
        str(row.get("collapses") if row.get("collapses") is not None else "—"),
        str(row.get("status") or ""),
    )


class PickerApp(App[str | None]):
    """Returns the path of the chosen session, or None."""

    TITLE = "rigscope sessions"
    CSS = "#filter { dock: top; } #help { dock: top; height: 1; color: $text-muted; }"
    BINDINGS = [Binding("escape", "quit_picker", "Quit"), Binding("enter", "open", "Open", priority=True)]

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        super().__init__()
        self.rows = rows
        self.shown: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Label("type to filter · ↑/↓ choose · Enter opens · Escape quits", id="help")
        yield Input(placeholder="filter: id, host, tier, status", id="filter")
        yield DataTable(id="sessions", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        self.fill("")

    def fill(self, text: str) -> None:
        table = self.query_one(DataTable)
        table.clear()
        words = text.lower().split()
        self.shown = [r for r in self.rows if all(w in " ".join(row_cells(r)).lower() for w in words)]
        for row in self.shown:
            table.add_row(*row_cells(row))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.fill(event.value)

    def on_key(self, event: Any) -> None:
        if event.key in ("up", "down", "pageup", "pagedown"):
            table = self.query_one(DataTable)
            table.focus()

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if not self.shown:
            self.notify("no session matches", severity="warning")
            return
        row = self.shown[min(table.cursor_row, len(self.shown) - 1)]
        if row.get("status") == "corrupt":
            self.notify(row.get("error", "corrupt session"), severity="error")
            return
        self.exit(row["path"])

    def action_quit_picker(self) -> None:
        self.exit(None)
