"""The fleet screen: totals at the top, one row per node, sortable and filterable; Enter opens a node.

The source (a Prometheus client or direct scrapes) is read in a thread of its own, never on
the event loop, one refresh at a time; the thread posts one message with the new model.  A refresh
that gave nothing (Prometheus unreachable, 503, refused credentials) backs off,
doubling the wait up to `MAX_BACKOFF_S`, and turns the rows it showed into stale ones:
names kept, numbers gone, so nothing old looks live.  Error lines sit under the table.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from collectors.fleet.model import FleetModel, counted, stale_rows
from recordings.inert import inert
from tui import fleet_columns as columns
from tui.filter_line import TABLE_BINDINGS, TABLE_HIDDEN_BINDINGS, FilterLine
from tui.fleet_node import NodeScreen, in_background

MAX_BACKOFF_S = 60.0


def next_delay(refresh_s: float, failures: int) -> float:
    """Seconds to the next refresh: the interval, doubled for each refresh in a row that gave nothing."""
    return min(MAX_BACKOFF_S, refresh_s * 2 ** failures) if failures else refresh_s


class Refreshed(Message):
    def __init__(self, model: FleetModel | None, error: str | None = None) -> None:
        super().__init__()
        self.model, self.error = model, error


class FleetTable(Static, can_focus=True):
    DEFAULT_CSS = "FleetTable { height: 1fr; } FleetTable:focus { background: $boost 30%; }"
    BINDINGS = [*TABLE_BINDINGS, Binding("enter", "open", "Open node"), *TABLE_HIDDEN_BINDINGS,
                Binding("pageup", "page(-1)", show=False), Binding("pagedown", "page(1)", show=False),
                Binding("home", "move(-1_000_000)", show=False), Binding("end", "move(1_000_000)", show=False)]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.all_rows: list[dict[str, Any]] = []
        self.rows: list[dict[str, Any]] = []  # shown: filtered and sorted
        self.sort_index, self.descending, self.needle = columns.DEFAULT_SORT, False, ""
        self.selected: str | None = None
        self._top = 0
        self._fits = 1  # rows on the screen at the latest redraw

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        self.all_rows = rows
        self.redraw()

    def redraw(self) -> None:
        title, _, _, key = columns.COLUMNS[self.sort_index]
        rows = [r for r in self.all_rows if columns.matches(r, self.needle)]
        rows.sort(key=lambda r: counted(r["node"]))
        rows.sort(key=key, reverse=self.descending)
        self.rows = rows
        names = [r["node"] for r in rows]
        if names and self.selected not in names:
            self.selected = names[0]
        fits = self._fits = max(1, (self.content_region.height or 30) - 2)
        width = self.content_region.width or None  # none before the first layout
        shown = columns.fitting(width)
        here = names.index(self.selected) if self.selected in names else 0
        self._top = max(0, min(self._top, here, len(names) - fits))
        if here >= self._top + fits:
            self._top = here - fits + 1
        head = Text(f"{len(rows)}/{len(self.all_rows)} nodes · sort {title} {'↓' if self.descending else '↑'}",
                    style="bold")
        if len(rows) > fits:
            head.append(f" · rows {self._top + 1}-{min(len(rows), self._top + fits)} (↑/↓)")
        if self.needle:
            head.append(f" · filter “{self.needle}”", style="bold cyan")
        lines = [head, Text(columns.header(shown), style="bold reverse")]
        for row in rows[self._top: self._top + fits]:
            style = "reverse" if row["node"] == self.selected else ("red" if row["stale"] else "")
            lines.append(Text(columns.row_line(row, shown), style=style))
        if not rows:
            lines.append(Text("no node matches" if self.needle else "no node yet", style="dim"))
        if width:
            for text in lines:
                text.truncate(width, overflow="ellipsis")  # one line a node, or the rows shown are not the rows counted
        self.update(Text("\n").join(lines))

    def on_resize(self) -> None:
        self.redraw()

    def action_sort(self) -> None:
        self.sort_index = (self.sort_index + 1) % len(columns.COLUMNS)
        self.descending = columns.COLUMNS[self.sort_index][0] not in columns.LEFT
        self.redraw()

    def action_order(self) -> None:
        self.descending = not self.descending
        self.redraw()

    def action_move(self, step: int) -> None:
        names = [r["node"] for r in self.rows]
        if names:
            here = names.index(self.selected) if self.selected in names else 0
            self.selected = names[max(0, min(len(names) - 1, here + step))]
            self.redraw()

    def action_page(self, pages: int) -> None:
        self.action_move(pages * self._fits)

    def action_filter(self) -> None:
        box = self.screen.query_one("#fleet-filter", Input)
        box.display, box.value = True, self.needle
        box.focus()

    def action_clear(self) -> None:
        self.set_filter("")

    def set_filter(self, needle: str) -> None:
        self.needle = needle.strip()
        self.redraw()

    def action_open(self) -> None:
        row = next((r for r in self.rows if r["node"] == self.selected), None)
        if row is not None:
            self.screen.open_node(row)  # type: ignore[attr-defined]


class FleetScreen(FilterLine, Screen[None]):
    FILTER_ID = "fleet-filter"
    DEFAULT_CSS = """
    FleetScreen #fleet-totals { height: auto; padding: 0 1; }
    FleetScreen #fleet-errors { height: auto; max-height: 8; padding: 0 1; color: $error; }
    FleetScreen #fleet-filter { display: none; }
    FleetScreen FleetTable { padding: 0 1; }
    """
    BINDINGS = [Binding("q", "app.quit", "Quit")]
    GONE = "no longer in the source's answer"

    def __init__(self, source: Any, refresh_s: float = 5.0) -> None:
        super().__init__()
        self.source, self.refresh_s = source, refresh_s
        self.model: FleetModel | None = None
        self.failures = 0
        self.refreshes = 0
        self.errors: list[str] = []
        self._last_good: float | None = None
        self._timer: Any = None
        self._fetching = False  # one refresh at a time: a slow source would pile them up, older answers last

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("fleet: reading…", id="fleet-totals")
            yield FleetTable(id="fleet-table")
            yield Input(placeholder="filter: node, workload, exporter, stale (Enter keeps it, Escape clears)",
                        id="fleet-filter")
            yield Static("", id="fleet-errors")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(FleetTable).focus()
        self.fetch()

    def fetch(self) -> None:
        self._fetching = True
        in_background(self._read, "rigscope-fleet-refresh")

    def _read(self) -> None:
        try:
            self.post_message(Refreshed(self.source.refresh()))
        except Exception as error:  # noqa: BLE001 (a bug in a client must not take the screen down: it is a line)
            self.post_message(Refreshed(None, f"refresh failed: {type(error).__name__}: {error}"))

    def action_refresh_now(self) -> None:
        if self._fetching:
            self.app.notify("a refresh is under way", timeout=2)
            return
        if self._timer is not None:
            self._timer.stop()
        self.fetch()

    def on_refreshed(self, message: Refreshed) -> None:
        self.refreshes += 1
        self._fetching = False
        model, table = message.model, self.query_one(FleetTable)
        errors = list(model.errors) if model else [message.error or "refresh failed"]
        if model is not None and (model.rows or not model.errors):
            self.failures, self.model, self._last_good = 0, model, model.taken_s
            table.set_rows(model.rows)
            self.query_one("#fleet-totals", Static).update(
                Text(columns.totals_line(model.totals) + f" · {model.queries} requests in {model.refresh_s:.2f} s"))
        else:
            self.failures += 1
            since = time.strftime("%H:%M:%S", time.localtime(self._last_good)) if self._last_good else "the start"
            table.set_rows(stale_rows(table.all_rows, f"no answer since {since}"))
            self.query_one("#fleet-totals", Static).update(Text("fleet: no answer", style="bold red"))
        delay = next_delay(self.refresh_s, self.failures)
        if self.failures:
            errors.append(f"retrying in {delay:.0f} s")
        self.errors = errors
        self.query_one("#fleet-errors", Static).update(Text("\n".join(inert(e) for e in errors)))
        self._timer = self.set_timer(delay, self.fetch)
        self._follow_open_node()

    def _follow_open_node(self) -> None:
        """An open node shows the latest refresh's row: stale when its node went down or the source failed."""
        table = self.query_one(FleetTable)
        for screen in self.app.screen_stack:
            if isinstance(screen, NodeScreen):
                name = screen.row["node"]
                row = next((r for r in table.all_rows if r["node"] == name), None)
                row = row or stale_rows([screen.row], self.GONE)[0]
                screen.update_row(row, self._gpus(row))

    def open_node(self, row: dict[str, Any]) -> None:
        self.app.push_screen(NodeScreen(self.source, row, self._gpus(row)))

    def _gpus(self, row: dict[str, Any]) -> dict[str, dict[str, float]]:
        """The node's GPUs as the latest good refresh read them; none for a stale row (they would look live)."""
        return {} if row["stale"] or self.model is None else self.model.gpus.get(row["node"], {})

    def filtered_table(self) -> FleetTable:
        return self.query_one(FleetTable)


class FleetApp(App[None]):
    TITLE = "rigscope fleet"
    BINDINGS = [Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
                Binding("r", "refresh_now", "Refresh")]  # on an open node too

    def __init__(self, source: Any, refresh_s: float = 5.0) -> None:
        super().__init__()
        self.fleet = FleetScreen(source, refresh_s)

    def get_default_screen(self) -> Screen:
        return self.fleet

    def action_refresh_now(self) -> None:
        self.fleet.action_refresh_now()
