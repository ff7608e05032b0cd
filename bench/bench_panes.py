"""What the spans and metrics panes and the metric overlay cost the dashboard's main thread.

The dashboard users get (`RigscopeApp` on a `LiveSource`: the simulated 4-GPU box at 10 Hz, not
recording) runs headless at 160x50 (Textual still composes every frame), redrawing at its
default 2 per second.  Three configurations, one after the other, each in a fresh app:

  no workload     nothing sends events: the panes are hidden (what bench_dashboard measures)
  panes           a thread of this process sends, through the real probe API, `grad_norm` and
                  `loss` 20 times a second each and 2 spans a second: both panes visible
  panes+overlay   the same, with `m` pressed once (grad_norm over every RLE sparkline)

After a 3 s warm-up, the main thread's CPU time (`time.thread_time()`, read inside the app's
event loop) over `--seconds` (default 20) is divided by the wall time: % of one core.  The
sender thread's own cost is not in it; the feed and span threads' are not either (they are other
threads).  Figures from one run on a shared machine move by a few tenths of a percent.

Run: python bench/bench_panes.py [--seconds S]
Prints a table and writes bench/results/panes.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import threading
import time
from typing import Any

from common import print_table, write_result  # noqa: I001

import rigscope
from rigscope import probe
from rigscope.app_factory import build_app
from rigscope.live import LiveSource
from rigscope.monitor import MonitorConfig

WARMUP_S = 3.0
SIZE = (160, 50)


def workload(stop: threading.Event) -> None:
    """grad_norm and loss at 20 Hz, a 0.2 s span every 0.5 s, until `stop`."""
    step = 0
    while not stop.is_set():
        if step % 10 == 0:
            span = rigscope.start_span("synthesis", tokens=120, audio_s=1.5)
        rigscope.metric("grad_norm", 1.0 + (step % 37) / 10, step=step)
        rigscope.metric("loss", 2.0 / (1 + step / 100), step=step)
        if step % 10 == 4:
            span.end()
        step += 1
        stop.wait(0.05)


async def measure(seconds: float, events: bool, overlay: bool) -> dict[str, Any]:
    source = LiveSource(MonitorConfig(source="sim", gpus_sim=4, hz=10.0, record=False))
    stop = threading.Event()
    sender = threading.Thread(target=workload, args=(stop,), daemon=True)
    app = build_app(source)
    try:
        async with app.run_test(size=SIZE) as pilot:
            if events:
                sender.start()
            await pilot.pause(WARMUP_S)
            if overlay:
                await pilot.press("m")
                assert app.dashboard.overlay == "grad_norm", "no metric reached the dashboard"
            cpu, wall = time.thread_time(), time.monotonic()
            await asyncio.sleep(seconds)
            cpu, wall = time.thread_time() - cpu, time.monotonic() - wall
            spans = source.feed.snapshot(0, ()).spans.total
    finally:
        stop.set()
        if sender.is_alive():
            sender.join()
        source.close()
    return {"main_thread_pct": 100 * cpu / wall, "seconds": wall, "spans_shown": spans}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    options = parser.parse_args()
    os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="rs-bench-")  # this run's monitor and probe only
    probe.reset()
    results = {}
    for label, events, overlay in (("no workload", False, False), ("panes", True, False),
                                   ("panes+overlay", True, True)):
        print(label, flush=True)
        results[label] = asyncio.run(measure(options.seconds, events, overlay))
    base = results["no workload"]["main_thread_pct"]
    print_table(["configuration", "main thread, % of a core", "÷ no workload", "spans shown"],
                [[label, r["main_thread_pct"], r["main_thread_pct"] / base, r["spans_shown"]]
                 for label, r in results.items()], title="dashboard main thread at 160x50, 4 GPUs, 10 Hz, 2 redraws/s")
    write_result("panes", {"seconds": options.seconds, "size": SIZE, "results": results})


if __name__ == "__main__":
    main()
