"""One node of the fleet: its GPUs, each with its latest readings and a utilization sparkline.

The history is read in a thread of its own: a `query_range` (step = window / width,
`max_over_time` so spikes survive) from Prometheus, or the scrapes kept in direct mode.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from recordings.inert import inert
from tui import format as fmt
from tui.sparkline import sparkline

SPARK_WIDTH = 60  # steps over the window
MIN_SPARK = 8  # the fewest steps a narrow terminal shows


def in_background(read: Callable[[], None], name: str) -> None:
    """`read` in a daemon thread: a request that hangs (up to --timeout each) never holds the quit back, as a
    Textual thread worker would (asyncio.run waits for its executor's threads)."""
    threading.Thread(target=read, name=name, daemon=True).start()


def _pct(value: Any) -> str:
    return fmt.num(value * 100 if isinstance(value, (int, float)) else None, "%", width=5)


def gpu_line(gpu: str, values: dict[str, float], history: list[float | None] | None, width: int | None = None) -> Text:
    """One GPU on one line of `width` cells: a narrow one shows the latest steps of the sparkline that fit."""
    line = (f"GPU {inert(gpu):>3}  util {_pct(values.get('util'))}  SM {_pct(values.get('sm_active'))}  "
            f"mem {fmt.size(values.get('mem_used')):>7}  {fmt.num(values.get('temp'), '°', width=4)}  "
            f"{fmt.num(values.get('power'), 'W', width=5)}  ")
    room = SPARK_WIDTH if width is None else max(MIN_SPARK, min(SPARK_WIDTH, width - len(line)))
    line += "reading history…" if history is None else sparkline(history[-room:], room, 0.0, 1.0)
    model = f"  {inert(values['model'])}" if values.get("model") else ""
    text = Text(line + model if width is None or len(line + model) <= width else line)  # the model, where it fits
    if width:
        text.truncate(width, overflow="ellipsis")
    return text


class NodeScreen(Screen[None]):
    DEFAULT_CSS = "NodeScreen #node-body { padding: 0 1; height: 1fr; }"
    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back")]

    def __init__(self, source: Any, row: dict[str, Any], gpus: dict[str, dict[str, float]]) -> None:
        super().__init__()
        self.source, self.row, self.gpus = source, row, gpus
        self.history: dict[str, list[float | None]] | None = None
        self.error: str | None = None
        self._loading = False

    def compose(self) -> ComposeResult:
        yield Static(id="node-body")
        yield Footer()

    def on_mount(self) -> None:
        self.draw()
        self.load()

    def load(self) -> None:
        if not self._loading:  # one read at a time, as the refreshes: a slow one is not overtaken by an older one
            self._loading = True
            in_background(self._read, "rigscope-fleet-history")

    def _read(self) -> None:
        try:
            answer: tuple[dict[str, list[float | None]] | None, str | None] = (
                self.source.history(self.row["node"], SPARK_WIDTH), None)
        except Exception as error:  # noqa: BLE001 (FetchError, or anything a server answered: a line, the screen stays)
            answer = None, str(error)
        with contextlib.suppress(RuntimeError):  # the app ended while it was read: it has nowhere to go
            self.app.call_from_thread(self.loaded, *answer)

    def update_row(self, row: dict[str, Any], gpus: dict[str, dict[str, float]]) -> None:
        """The node as the latest refresh read it; its history read again, when it is live."""
        self.row, self.gpus = row, gpus
        self.draw()
        if not row["stale"]:
            self.load()

    def loaded(self, history: dict[str, list[float | None]] | None, error: str | None) -> None:
        self.history, self.error, self._loading = history or {}, error, False
        self.draw()

    def on_resize(self) -> None:
        self.draw()

    def draw(self) -> None:
        row = self.row
        head = Text(f"{inert(row['node'])}", style="bold")
        head.append(f"  {', '.join(row['exporters']) or 'no known exporter'}")
        if row["stale"]:
            head.append(f"  STALE: {inert(row['reason'])}", style="bold red")
        lines = [head, Text("utilization over the window, the highest in each step (0-100 %)", style="dim")]
        gpus = sorted(set(self.gpus) | set(self.history or {}), key=lambda g: (len(g), g))
        width = self.query_one("#node-body", Static).content_region.width or None  # none before the first layout
        for gpu in gpus:
            history = None if self.history is None else self.history.get(gpu, [])
            lines.append(gpu_line(gpu, self.gpus.get(gpu, {}), history, width))
        if not gpus:
            lines.append(Text("no GPU readings from this node", style="dim"))
        if self.error:
            lines.append(Text(f"history: {inert(self.error)}", style="red"))
        self.query_one("#node-body", Static).update(Text("\n").join(lines))
