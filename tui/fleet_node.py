"""One node of the fleet: its GPUs, each with its latest readings and a utilization sparkline.

The history is read in a worker thread: a `query_range` (step = window / width,
`max_over_time` so spikes survive) from Prometheus, or the scrapes kept in direct mode.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from recordings.inert import inert
from tui import format as fmt
from tui.sparkline import sparkline

SPARK_WIDTH = 60  # steps over the window
MIN_SPARK = 8  # the fewest steps a narrow terminal shows


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

    def compose(self) -> ComposeResult:
        yield Static(id="node-body")
        yield Footer()

    def on_mount(self) -> None:
        self.draw()
        self.load()

    @work(thread=True, exclusive=True, group="fleet-node")
    def load(self) -> None:
        try:
            history = self.source.history(self.row["node"], SPARK_WIDTH)
            self.app.call_from_thread(self.loaded, history, None)  # once per opening, not a hot path
        except Exception as error:  # noqa: BLE001 (FetchError, or anything a server answered: a line, the screen stays)
            self.app.call_from_thread(self.loaded, None, str(error))

    def update_row(self, row: dict[str, Any], gpus: dict[str, dict[str, float]]) -> None:
        """The node as the latest refresh read it; its history read again, when it is live."""
        self.row, self.gpus = row, gpus
        self.draw()
        if not row["stale"]:
            self.load()

    def loaded(self, history: dict[str, list[float | None]] | None, error: str | None) -> None:
        self.history, self.error = history or {}, error
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
