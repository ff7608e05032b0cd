"""What one redraw costs, widget by widget, at 10 redraws a second.

The dashboard users get (`RigscopeApp` on a `LiveSource`: the simulated 4-GPU box at 10 Hz, not
recording) runs headless at 160x50 with `fps` 10.  After a 3 s warm-up, for `--seconds` (default
15), every widget's two steps are timed with `time.thread_time()` on the main thread:

  build   the dashboard handing the widget what to show (`show`, `set_text`): lines of text laid
          out, compared with the ones on screen, changed ones cut into strips
  paint   Textual asking the widget for the rows the compositor repaints (`render_line`): only
          the rows that changed since the last redraw (the strip cache) are asked for

Per widget: µs of each per redraw, and rows painted per redraw (a 7-row panel that paints 5 rows
changed 5 of its rows).  The total is the main thread's CPU time over the interval, % of one core;
what the widgets do not account for is Textual's own work (timers, layout, compositing, output).

Run: python bench/bench_redraw.py [--seconds S] [--fps N]
Prints a table and writes bench/results/redraw.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from common import print_table, write_result  # noqa: I001

from rigscope.app_factory import build_app
from rigscope.live import LiveSource
from rigscope.monitor import MonitorConfig
from tui.bars import TextBar
from tui.devices import DevicePanel
from tui.strips import StripText

WARMUP_S = 3.0
SIZE = (160, 50)


class Meter:
    """CPU seconds and calls per (widget, step), from wrappers around the widgets' methods."""

    def __init__(self) -> None:
        self.cpu: dict[tuple[str, str], float] = defaultdict(float)
        self.calls: dict[tuple[str, str], int] = defaultdict(int)
        self.on = False

    def wrap(self, cls: type, method: str, step: str) -> Callable[[], None]:
        original = getattr(cls, method)
        meter = self

        def timed(widget: Any, *args: Any, **kwargs: Any) -> Any:
            if not meter.on:
                return original(widget, *args, **kwargs)
            start = time.thread_time()
            try:
                return original(widget, *args, **kwargs)
            finally:
                key = (widget.id or type(widget).__name__, step)
                meter.cpu[key] += time.thread_time() - start
                meter.calls[key] += 1

        setattr(cls, method, timed)
        return lambda: setattr(cls, method, original)


async def measure(seconds: float, fps: float) -> dict[str, Any]:
    meter = Meter()
    undo = [meter.wrap(DevicePanel, "show", "build"), meter.wrap(TextBar, "set_text", "build"),
            meter.wrap(StripText, "render_line", "paint")]
    source = LiveSource(MonitorConfig(source="sim", gpus_sim=4, hz=10.0, record=False), fps=fps)  # as the CLI
    app = build_app(source, fps=fps)
    redraws = 0
    redraw = app.dashboard.redraw

    def counted(force: bool = False) -> None:
        nonlocal redraws
        before = app.dashboard._drawn_version
        redraw(force)
        redraws += meter.on and app.dashboard._drawn_version != before

    app.dashboard.redraw = counted  # type: ignore[method-assign]
    try:
        async with app.run_test(size=SIZE):
            await asyncio.sleep(WARMUP_S)
            meter.on = True
            cpu, wall = time.thread_time(), time.monotonic()
            await asyncio.sleep(seconds)
            cpu, wall = time.thread_time() - cpu, time.monotonic() - wall
            meter.on = False
    finally:
        for restore in undo:
            restore()
        source.close()
    widgets: dict[str, dict[str, float]] = {}
    for (name, step), spent in meter.cpu.items():
        row = widgets.setdefault(name, {"build_us": 0.0, "paint_us": 0.0, "rows_painted": 0.0})
        row[f"{step}_us"] = 1e6 * spent / max(1, redraws)
        if step == "paint":
            row["rows_painted"] = meter.calls[(name, step)] / max(1, redraws)
    return {"fps": fps, "seconds": wall, "redraws": redraws, "main_thread_pct": 100 * cpu / wall,
            "main_ms_per_redraw": 1000 * cpu / max(1, redraws), "widgets": widgets}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="5 s")
    options = parser.parse_args()
    os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="rs-bench-")  # this run's monitor only
    result = asyncio.run(measure(5.0 if options.quick else options.seconds, options.fps))
    rows = sorted(result["widgets"].items(), key=lambda kv: -(kv[1]["build_us"] + kv[1]["paint_us"]))
    accounted = sum(w["build_us"] + w["paint_us"] for _, w in rows) / 1000
    print_table(["widget", "build µs", "paint µs", "rows painted"],
                [[name, w["build_us"], w["paint_us"], w["rows_painted"]] for name, w in rows], digits=1,
                title=f"per redraw, {result['redraws']} redraws at {options.fps:g} fps, 160x50, 4 GPUs, 10 Hz")
    print(f"main thread {result['main_thread_pct']:.2f} % of a core, {result['main_ms_per_redraw']:.2f} ms per "
          f"redraw, of which the widgets {accounted:.2f} ms (the rest: Textual's timers, layout, compositing)")
    write_result("redraw", {"size": SIZE, **result})


if __name__ == "__main__":
    main()
