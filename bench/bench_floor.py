"""The floor: what the design costs in Python before any drawing, against btop and glances in the same run.

rigscope's design (ARCHITECTURE.md) is a sampling thread that never blocks the UI, a recorder
thread, and a Textual dashboard.  This benchmark measures the least the first two can cost on this
machine, with nothing of rigscope's threads around them, and what a plain Textual app costs to redraw:

  wake          a Python thread sleeping to a drift-free schedule at 10 or 100 Hz and doing nothing
                (`floor_programs.py wake HZ`, in tmux): the cost of the wakes alone
  warm work     the sampler's and the recorder's own work per tick and per row with their code and
                data in cache (`bench_tick_cost.py`'s warm figures: the demo's 4 simulated GPUs, the
                signals, the JSON-lines journal), times the rate
  textual       a plain Textual app at 160x50, 2 redraws a second, ROWS one-line widgets changed per
                redraw (`floor_programs.py textual ROWS 2`, in tmux; 12 rows: what rigscope's dashboard
                repaints per redraw, `bench_redraw.py`; 48: the whole screen), for scale: rigscope's
                own main thread, with its own strips and compositing, costs less than this

floor(rate) = wake(rate) + rate × (warm sampler µs + warm recorder µs): the sampling and recording
with no screen and none of what a live run adds to the warm work (cold caches at each wake:
`bench_tick_cost.py` shows the live figures 3 to 4 times the warm ones), the screen feed, the span
assembler or Python's own threads; the real cost can only be higher.  What a target leaves for the
screen is the target less the floor.  Every program runs at the same time in its own tmux
(`bench_dashboard.py`'s machinery), with btop at 100 ms and `glances -t 1`; 3 rounds of 40 s,
medians, ratios taken round by round.

Run: python bench/bench_floor.py [--seconds S] [--rounds N]
Prints a table and writes bench/results/floor.json.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bench_dashboard import Config, configurations, measure, same_round_ratios, summarize
from bench_tick_cost import measure_warm
from common import ROOT, median, print_table, write_result  # noqa: I001

PROGRAMS = ROOT / "bench" / "floor_programs.py"
SCREEN_ROWS = 12  # rows rigscope's dashboard repaints per redraw (bench_redraw.py)


def floor_configs() -> list[Config]:
    def program(*args: str) -> list[str]:
        return [sys.executable, str(PROGRAMS), *args]

    return [Config("wake-10", "wake 10 Hz", "floor", lambda d: program("wake", "10")),
            Config("wake-100", "wake 100 Hz", "floor", lambda d: program("wake", "100")),
            Config(f"textual-{SCREEN_ROWS}", f"Textual, {SCREEN_ROWS} rows at 2 fps", "floor",
                   lambda d: program("textual", str(SCREEN_ROWS), "2")),
            Config("textual-48", "Textual, 48 rows at 2 fps", "floor", lambda d: program("textual", "48", "2"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()

    warm = {hz: measure_warm("sim4", hz) for hz in (10.0, 100.0)}
    skipped: dict[str, str] = {}
    peers = [c for c in configurations(skipped)[0] if c.key in ("btop-100", "glances-1s")]
    configs = floor_configs() + peers
    runs: dict[str, list[dict[str, Any]]] = {c.key: [] for c in configs}
    for round_index in range(options.rounds):
        for run in measure(configs, options.seconds, 1000 * (round_index + 1)):
            run["round"] = round_index + 1
            runs[run["config"]].append(run)
            print(f"round {round_index + 1}  {run['config']:<12} "
                  f"{run['cpu_pct']:.2f} %" if run.get("ok") else f"failed: {run.get('error')}", flush=True)

    rows = {c.key: summarize(c, runs[c.key]) for c in configs}
    floors: dict[str, dict[str, Any]] = {}
    for hz in (10.0, 100.0):
        work_pct = hz * (warm[hz]["sampler_us_per_tick"] + warm[hz]["recorder_us_per_row"]) / 1e4
        per_round = {r["round"]: r["cpu_pct"] + work_pct for r in runs[f"wake-{hz:g}"] if r.get("ok")}
        floor_runs = [{"ok": True, "round": k, "cpu_pct": v} for k, v in per_round.items()]
        floors[f"{hz:g} Hz"] = {
            "warm_work_pct": work_pct, "floor_pct": median(list(per_round.values())) if per_round else None,
            "over_btop_100": median(r) if (r := same_round_ratios(floor_runs, runs.get("btop-100", []))) else None,
            "over_glances_1s": median(r) if (r := same_round_ratios(floor_runs, runs.get("glances-1s", []))) else None,
        }
    print_table(["program", "% of a core", "min–max"],
                [[r["label"], r.get("cpu_pct"), f"{r['cpu_pct_min']:.2f}–{r['cpu_pct_max']:.2f}"
                  if "cpu_pct_min" in r else r.get("error")] for r in rows.values()],
                title=f"median of {options.rounds} rounds of {options.seconds:g} s, every program at once")
    print_table(["rate", "warm work %", "floor %", "floor ÷ btop 100 ms", "floor ÷ glances -t 1"],
                [[name, f["warm_work_pct"], f["floor_pct"], f["over_btop_100"], f["over_glances_1s"]]
                 for name, f in floors.items()],
                title="the floor before any drawing: the wakes + the warm work, same rounds")
    for name, why in skipped.items():
        print(f"  skipped {name}: {why}")
    write_result("floor", {"seconds": options.seconds, "rounds": options.rounds, "warm": warm,
                           "programs": rows, "floors": floors, "runs": runs, "skipped": skipped})


if __name__ == "__main__":
    main()
