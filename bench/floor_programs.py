"""The least a Python process can cost at each of rigscope's jobs: the programs `bench_floor.py` measures.

  wake HZ          one thread sleeping to a drift-free schedule at HZ and doing nothing: what every
                   wake of the sampling thread costs before it reads anything
  textual ROWS FPS the cheapest Textual dashboard: a 160x50 screen of one-line widgets drawn through
                   the line API (no layout, no Rich Text), ROWS of them changed FPS times a second

Run: python bench/floor_programs.py wake 100 | textual 48 2
"""

from __future__ import annotations

import sys
import threading
import time


def wake(hz: float) -> None:
    """Sleep to the schedule forever; the main thread waits (as rigscope's does between redraws)."""
    def loop() -> None:
        period, due = 1.0 / hz, time.monotonic()
        while True:
            due += period
            time.sleep(max(0.0, due - time.monotonic()))

    threading.Thread(target=loop, daemon=True).start()
    threading.Event().wait()


def textual(rows: int, fps: float) -> None:
    from rich.segment import Segment
    from textual.app import App, ComposeResult
    from textual.strip import Strip
    from textual.widget import Widget

    class Line(Widget):
        DEFAULT_CSS = "Line { height: 1; }"

        def __init__(self) -> None:
            super().__init__()
            self.text = ""

        def render_line(self, y: int) -> Strip:
            return Strip([Segment(self.text)])

    class Floor(App[None]):
        def compose(self) -> ComposeResult:
            self.lines = [Line() for _ in range(48)]
            yield from self.lines

        def on_mount(self) -> None:
            self.count = 0
            self.set_interval(1.0 / fps, self.redraw)

        def redraw(self) -> None:
            self.count += 1
            for index in range(rows):  # a sparkline moves by one cell: each changed row is a new string
                line = self.lines[(self.count + index) % len(self.lines)]
                line.text = f"{self.count:>8} " + "▁▂▃▄▅▆▇█"[self.count % 8] * 140
                line.refresh()

    Floor().run()


if __name__ == "__main__":
    if sys.argv[1] == "wake":
        wake(float(sys.argv[2]))
    else:
        textual(int(sys.argv[2]), float(sys.argv[3]))
