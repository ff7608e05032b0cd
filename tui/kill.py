"""The confirmation before `k` sends SIGTERM to a process, and the reasons it may not."""

from __future__ import annotations

import os
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Label

from recordings.inert import inert
from tui.screens import MODAL_CSS, Dialog
from tui.source import ProcessControl


def off_here(readonly: bool, control: ProcessControl | None) -> str | None:
    """Why `k` ends nothing on this screen whatever is selected (--readonly, or a replay: `control` None)."""
    if readonly:
        return "read-only (--readonly): k is off"
    if control is None:
        return "a replay shows recorded processes: nothing to end"
    return None


def why_not(row: dict[str, Any] | None, readonly: bool, control: ProcessControl | None) -> str | None:
    """Why the row's process cannot be sent a signal from here; None when it can be asked for.
    `control` is the source's process control: None in a replay, which shows recorded processes."""
    off = off_here(readonly, control)
    if off is not None:
        return off
    if row is None:
        return "no process selected"
    if row.get("simulated"):
        return "a simulated process (made-up pid): nothing to end"
    if not row.get("visible"):
        return f"pid {row.get('pid')} is not visible from this namespace: it cannot be signalled from here"
    if row.get("pid") == 1:
        return "pid 1 starts and stops the whole machine (or container): not ended from here"
    if row.get("pid") == os.getpid():
        return f"pid {row.get('pid')} is this rigscope: q quits it"
    return None


def listed_at(row: dict[str, Any]) -> float | None:
    """When the row was read (epoch seconds), so a process that took its pid since is not signalled."""
    ts = row.get("ts")
    return None if ts is None else ts / 1e6


class KillScreen(Dialog[bool]):
    """`y` sends SIGTERM, `n` or Escape keeps the process."""

    DEFAULT_CSS = MODAL_CSS.format(name="KillScreen")
    BINDINGS = [Binding("y", "answer(True)", "Yes, SIGTERM"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, row: dict[str, Any]) -> None:
        super().__init__()
        self.row = row

    def compose(self) -> ComposeResult:
        row = self.row
        with Vertical():
            yield Label(Text(inert(f"Send SIGTERM to pid {row.get('pid')} of {row.get('user') or 'an unknown user'}?"),
                             style="bold"))
            yield Label(Text(inert(row.get("command") or "?")))
            if os.geteuid() == 0:  # nothing stops root: the dialog is the only check left
                yield Label(Text("You are root: this ends the process whoever owns it.", style="bold red"))
            yield Label("y: send it    n / Escape: keep it running")

    def action_answer(self, answer: bool) -> None:
        self.close_with(answer)
