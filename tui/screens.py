"""Modal screens: write a note, tag the phase, read the keys, look at one device in detail."""

from __future__ import annotations

from typing import Any, TypeVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static

from recordings.inert import inert
from tui import format as fmt

# See-through: a dialog covers only its own area, so the spike being annotated stays in sight. One-line
# dialogs (note, tag, go to) sit at the bottom, over the events and host bars, not over the panels.
# (Textual composites the dashboard under a see-through dialog on every redraw behind it: `n` to the
# dialog on screen took 50 ms in tmux at 160x50, against 26 ms when the dialog blanked the screen.)
MODAL_CSS = """
{name} {{ align: center middle; background: transparent; }}
{name} > Vertical, {name} > VerticalScroll {{ width: 70; max-width: 95%; height: auto; max-height: 90%;
                    border: round $accent; background: $surface; padding: 0 1; }}
"""
BOTTOM_CSS = "{name} {{ align: center bottom; }}"
# What the panels' words and numbers mean, in help (`?`) and details (`d`).
GLOSSARY: tuple[tuple[str, str], ...] = (
    ("RLE", "load efficiency: utilization x steadiness per share of rated power, less when heat builds up. "
            "Above 1: more work than power share (90 % busy on 50 % of rated power). "
            "— with a reason when power or its limit is unknown"),
    ("peak", "the RLE's recent best (decays slowly); what a collapse is measured against"),
    ("warm-up", "the first 60 s: no peak yet, no collapse detection"),
    ("collapse", "RLE under 65 % of its peak for 7 s or more while loaded, under heat or power pressure; "
                 "`collapses 2 (31 s)` and `C2/31s` on a one-row panel: 2 events, 31 s in all; "
                 "`—` and `C—`: no RLE, so none is looked for"),
    ("85/83°C", "a reading against the device's own limit: yellow near it, red at or over it "
                "(NO_COLOR: `!` near, `!!` at or over)"),
)


ResultT = TypeVar("ResultT")


class Dialog(ModalScreen[ResultT]):
    """A modal screen that answers once.  Keys typed fast (Enter or Escape repeated, `y y`) can reach it after
    its answer took it off the screen stack; a second dismiss then ended the whole app (ScreenStackError)."""

    def close_with(self, result: ResultT) -> None:
        if self.is_current:
            self.dismiss(result)


def glossary_table() -> Table:
    table = Table.grid(padding=(0, 2))
    for word, meaning in GLOSSARY:
        table.add_row(f"[bold]{word}[/]", meaning)
    return table



class NoteScreen(Dialog[str | None]):
    """A one-line note; Enter saves, Escape cancels."""

    DEFAULT_CSS = MODAL_CSS.format(name="NoteScreen") + BOTTOM_CSS.format(name="NoteScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, stamp: str) -> None:
        super().__init__()
        self.stamp = stamp

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Note at {self.stamp[11:19]} UTC (Enter saves, Escape cancels)")
            yield Input(placeholder="what happened?", id="note-text")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.close_with(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.close_with(None)


class TagScreen(Dialog[str | None]):
    """Type a tag, or pick a recent one with ↓/↑ and Enter; `auto` returns to the heuristic."""

    DEFAULT_CSS = MODAL_CSS.format(name="TagScreen") + BOTTOM_CSS.format(name="TagScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("down", "move(1)", show=False),
                Binding("up", "move(-1)", show=False)]

    def __init__(self, recent: list[str]) -> None:
        super().__init__()
        self.recent = recent
        self.moved = False  # an arrow key chose a recent tag: Enter on an empty input takes it

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Tag the workload phase: type one, or ↓/↑ and Enter to pick (auto returns to the heuristic)")
            yield Input(placeholder="type a tag, or ↓ to pick one below", id="tag-text")
            yield OptionList(*(Text(inert(tag)) for tag in self.recent), id="tag-recent")  # typed text, not markup

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if not self.moved or options.highlighted is None:
            options.highlighted = 0 if step > 0 else options.option_count - 1
        else:
            options.highlighted = (options.highlighted + step) % options.option_count
        self.moved = True

    def on_input_submitted(self, event: Input.Submitted) -> None:
        typed = event.value.strip()
        options = self.query_one(OptionList)
        if typed:
            self.close_with(typed)
        elif self.moved and options.highlighted is not None:
            self.close_with(self.recent[options.highlighted])
        else:
            self.notify("type a tag, or pick one with ↓/↑ and Enter (Escape cancels)", severity="warning", timeout=4)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.close_with(self.recent[event.option_index])

    def action_cancel(self) -> None:
        self.close_with(None)


class ConfirmScreen(Dialog[bool]):
    """A yes/no question: `y` (or Enter) answers yes, `n` or Escape no."""

    DEFAULT_CSS = MODAL_CSS.format(name="ConfirmScreen") + BOTTOM_CSS.format(name="ConfirmScreen")
    BINDINGS = [Binding("y,enter", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str, detail: str) -> None:
        super().__init__()
        self.question, self.detail = question, detail

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"[bold]{self.question}[/] (y / Enter: yes, n / Escape: no)")
            yield Static(self.detail)

    def action_answer(self, answer: bool) -> None:
        self.close_with(answer)


class HelpScreen(Dialog[None]):
    DEFAULT_CSS = MODAL_CSS.format(name="HelpScreen")
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        for key, description in self.keys:  # a preset's text comes from the settings file: shown as typed
            table.add_row(Text(key, style="bold"), Text(description))
        with VerticalScroll():
            yield Static("[bold]rigscope keys[/] (Escape closes; ↑/↓ scroll; ctrl+p opens the command palette)")
            yield Static(table)
            yield Label("\n[bold]What the panels show[/]")
            yield Static(glossary_table())

    def action_close(self) -> None:
        self.close_with(None)


class DeviceScreen(Dialog[None]):
    """Every current value of one device; left/right switch device."""

    DEFAULT_CSS = MODAL_CSS.format(name="DeviceScreen")
    BINDINGS = [Binding("escape,d,q", "close", "Close"), Binding("left", "step(-1)", "Previous"),
                Binding("right", "step(1)", "Next")]

    def __init__(self, prefixes: list[str], frame: dict[str, Any], index: int = 0) -> None:
        super().__init__()
        self.prefixes, self.frame, self.index = prefixes, frame, index

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="device-detail")
            yield Static(glossary_table())

    def on_mount(self) -> None:
        self._fill()

    def _fill(self) -> None:
        prefix = self.prefixes[self.index]
        table = Table(title=f"{prefix} ({self.index + 1}/{len(self.prefixes)}, ←/→ switch, ↑/↓ scroll)",
                      expand=True)
        table.add_column("column")
        table.add_column("value", justify="right")
        for name, value in self.frame.items():
            if name == "self_threads":  # `main=1.9 sampler=0.8`: one row per thread role, on rigscope's own page
                threads = str(value or "").split() if prefix == "self" else []
                for role, _, pct in (item.partition("=") for item in threads):
                    table.add_row(f"  thread {role}", f"{pct} % of a core")
            elif name.startswith(f"{prefix}_"):
                table.add_row(name, fmt.column_value(name, value))
        self.query_one("#device-detail", Static).update(table)

    def action_step(self, step: int) -> None:
        self.index = (self.index + step) % len(self.prefixes)
        self._fill()

    def action_close(self) -> None:
        self.close_with(None)


class GotoScreen(Dialog[str | None]):
    """Where to go in a replay: `HH:MM:SS`, `+15m` or `-30s` from the position, `15m` from the start."""

    DEFAULT_CSS = MODAL_CSS.format(name="GotoScreen") + BOTTOM_CSS.format(name="GotoScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[bold]Go to[/]: HH:MM:SS (UTC); +5m or -30s from the position; 15m or 90 (seconds) "
                         "from the start. Enter goes, Escape cancels.")
            yield Input(placeholder="+5m", id="goto-text")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.close_with(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.close_with(None)
