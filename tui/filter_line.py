"""The keys and the filter line shared by the tables that sort, reverse, filter and select their rows
(the processes view, the fleet): one set of bindings, one way the filter line opens and closes."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding
from textual.widgets import Input

# `sort`, `order`, `filter`, `move` and `clear` are the table's actions; a table adds its own keys after these.
TABLE_BINDINGS = [
    Binding("s", "sort", "Sort"),
    Binding("i", "order", "Reverse"),
    Binding("slash", "filter", "Filter"),
]
TABLE_HIDDEN_BINDINGS = [
    Binding("up", "move(-1)", "Up", show=False),
    Binding("down", "move(1)", "Down", show=False),
    Binding("escape", "clear", "Clear filter", show=False),
]


class FilterLine:
    """Mixin of the widget or screen that holds a table and its filter line (`FILTER_ID`, shown while
    typing after `/`): typing filters the table, Enter keeps the filter, Escape clears it, and the
    table has the focus back. `filtered_table` names the table (it has `set_filter(text)`)."""

    FILTER_ID: ClassVar[str]

    def filtered_table(self) -> Any:
        raise NotImplementedError

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filtered_table().set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.close_filter()

    def on_key(self, event: Any) -> None:
        box = self.query_one(f"#{self.FILTER_ID}", Input)  # type: ignore[attr-defined]
        if event.key == "escape" and box.has_focus:
            event.stop()
            box.value = ""
            self.close_filter()

    def close_filter(self) -> None:
        self.query_one(f"#{self.FILTER_ID}", Input).display = False  # type: ignore[attr-defined]
        self.filtered_table().focus()
