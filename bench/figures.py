"""The figures of each benchmark's JSON result that docs/PERFORMANCE.md quotes, with their goals.

One function per benchmark takes its `bench/results/<name>.json` (a dict) and
returns `Figure` rows: what is measured, the figure as text, the goal as text
(empty when the issues set none) and whether it passed (None: no goal, or not
measured).  `bench/run.py` registers each function next to its script.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Result = dict[str, Any]


@dataclass(frozen=True)
class Figure:
    measure: str
    figure: str
    goal: str = ""
    passed: bool | None = None


Extractor = Callable[[Result], list[Figure]]


def _f(value: Any, digits: int = 2, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}{unit}"
    return f"{value:,.{digits}f}{unit}"


def _below(value: Any, limit: float) -> bool | None:
    return None if value is None else value < limit


def sampler(r: Result) -> list[Figure]:
    ratio_max = r["targets"]["ratio_max"]
    pct_max = r["targets"]["pct_max"]
    out = []
    for c in r["rates"]:
        hz = f"{c['hz']:g}"
        limit = pct_max.get(hz)
        ok = c["ratio"] is not None and c["ratio"] <= ratio_max and (limit is None or c["ours_pct"] <= limit)
        goal = (f"≤ {limit:g} %, " if limit else "") + f"≤ {ratio_max:g}× bare"
        out.append(Figure(f"sampling thread at {hz} Hz, ours / bare psutil",
                          f"{_f(c['ours_pct'], 3)} / {_f(c['bare_pct'], 3)} % of a core ({_f(c['ratio'])}×)", goal, ok))
    direct = r.get("direct_vs_psutil_us")
    if direct:
        before, after = sum(d["psutil_cpu_us"] for d in direct), sum(d["direct_cpu_us"] for d in direct)
        out.append(Figure("host reads: psutil calls / the direct /proc reads that replace them, per sample",
                          f"{_f(before, 1)} / {_f(after, 1)} µs ({_f(before / after, 1)}×)"))
    return out


def lag(r: Result) -> list[Figure]:
    where = {"idle": "idle", "busy": "all cores busy"}
    return [Figure(f"`sample_lag_ms` p99 at {r['hz']:g} Hz, {where.get(c['condition'], c['condition'])}",
                   f"{_f(c['p99_ms'])} ms (p50 {_f(c['p50_ms'])}, max {_f(c['max_ms'])})",
                   f"< {c['target_p99_ms']:g} ms", c["pass"]) for c in r["conditions"]]


def load(r: Result) -> list[Figure]:
    return [
        Figure(f"`sample_lag_ms` p99 at {r['hz']:g} Hz, cores busy, {r['offered_per_s']:,.0f} events/s probe flood",
               f"{_f(r['p99_ms'])} ms (p50 {_f(r['p50_ms'])}, max {_f(r['max_ms'])})", f"< {r['target_p99_ms']:g} ms",
               r["p99_ms"] < r["target_p99_ms"]),
        Figure("events under the flood: taken / dropped by the rate limit / lost",
               f"{r['accepted']:,} / {r['rate_limited']:,} / {r['lost']:,}", "none lost below 20,000/s",
               r["lost"] == 0),
    ]


def memory(r: Result) -> list[Figure]:
    return [Figure(f"RSS growth over a simulated hour at {r['hz']:g} Hz", f"{_f(r['growth_mb'], 1)} MB "
                   f"(median drift {_f(r.get('drift_mb'), 1)} MB)", f"< {r['target_growth_mb']:g} MB", r["pass"])]


def recorder(r: Result) -> list[Figure]:
    out = [Figure(f"recorder thread per sample, {c['gpus']} GPU, {c['label']}",
                  _f(c["write_cpu_us_per_sample"], 1, " µs")) for c in r["write_costs"]]
    hour = 3600 * r["hz"]
    out += [Figure(f"bytes per sample-hour at {r['hz']:g} Hz, {s['gpus']} GPU",
                   f"Parquet {_f(s['parquet_bytes_per_sample'] * hour / 1e6, 1)} MB, "
                   f"CSV {_f(s['csv_bytes_per_sample'] * hour / 1e6, 1)} MB") for s in r["sizes"]]
    return out


def crash(r: Result) -> list[Figure]:
    kills = r["kills"]
    return [
        Figure(f"loss at `kill -9`, {r['hz']:g} Hz, flush interval {r['flush_interval_s']:g} s",
               f"max {_f(r['max_loss_s'])} s, median {_f(r['median_loss_s'])} s", f"≤ {r['flush_interval_s']:g} s",
               r["pass"]),
        Figure("sessions that open / repair after `kill -9`", f"{r['opened']} / {kills}, {r['repaired']} / {kills}",
               "all", r["opened"] == kills and r["repaired"] == kills),
    ]


def signals(r: Result) -> list[Figure]:
    offline = r["analyze"]
    return [Figure("`analyze` throughput, Parquet to Parquet", f"{_f(offline['rows_per_s'], 0)} rows/s "
                   f"({offline['rows']:,} rows)"),
            Figure("signal pipeline, `DeviceSignals.update`", _f(r["device_update_us"], 2, " µs a call"))]


def dashboard(r: Result) -> list[Figure]:
    """The issue's four targets with units and limits, the same-run ratio, and the load the runs had."""
    ratio, hundred, keys, rss, *native = r["targets"]
    runs = [run for runs in r["runs"].values() for run in runs if run.get("ok")]
    load = sorted(run["load_avg_1m"] for run in runs)[len(runs) // 2] if runs else 0.0
    cores = r.get("machine", {}).get("cores_logical") or 1
    busy = f" (runs under load {load:.1f} on {cores} cores: only the ratio is fair)" if load > 1.5 * cores else ""
    btop = next((c.get("cpu_pct") for c in r["configs"] if c["config"] == "btop-1000"), None)
    ours, glances = ratio["value"], ratio["limit"]
    times = f", {ours / glances:.2f}×" if ours is not None and glances else ""
    together = ", every tool running at once" if r.get("together") else ""
    out = [Figure(f"`rigscope demo` at 10 Hz, 4 simulated GPUs, recording, in tmux, against `glances -t 1` in the "
                  f"same run{together}{busy}", f"{_f(ours)} % vs {_f(glances)} % of a core{times}", "< glances", ratio["pass"]),
           Figure(f"the same at 100 Hz{busy}", _f(hundred["value"], 2, " % of a core"), "< 10 %", hundred["pass"]),
           Figure(f"key `n` to the note dialog on screen, median{busy}", _f(keys["value"], 0, " ms"), "< 100 ms",
                  keys["pass"]),
           Figure("idle RSS, rigscope at 10 Hz", _f(rss["value"], 1, " MB"), "< 120 MB", rss["pass"])]
    if btop is not None:
        out.append(Figure("native reference, same run: `btop` at 1000 ms", _f(btop, 2, " % of a core")))
    cpu = {c["config"]: c.get("cpu_pct") for c in r["configs"]}
    for t in native:  # the native-tools targets: ratios of tools that ran in the same round
        out.append(Figure(f"{t['ours']} ÷ {t['peer']}, median of same-round ratios{busy}",
                          f"{_f(t['value'])}× ({_f(cpu.get(t['ours']))} vs {_f(cpu.get(t['peer']))} % of a core)",
                          f"≤ {t['limit']:g}×", t["pass"]))
    budgets = [f"{c['config']}: " + ", ".join(f"{n} {p:.2f}" for n, p in sorted(c["threads_pct"].items(),
                                                                                 key=lambda kv: -kv[1]) if p >= 0.05)
               for c in r["configs"] if c.get("threads_pct")]
    if budgets:
        out.append(Figure("rigscope's budget by thread, % of a core (mean over the run, median of rounds)",
                          "; ".join(budgets)))
    return out


def redraw(r: Result) -> list[Figure]:
    """Main thread per redraw at 10 fps, and what the busiest widget and all the panels cost of it."""
    widgets = r["widgets"]
    panels = {name: w for name, w in widgets.items() if name.startswith("panel-")}
    build = sum(w["build_us"] + w["paint_us"] for w in panels.values())
    rows = sum(w["rows_painted"] for w in widgets.values())
    return [Figure(f"dashboard main thread at {r['fps']:g} fps (headless, 160x50, 4 GPUs, 10 Hz), per redraw",
                   f"{_f(r['main_ms_per_redraw'])} ms ({_f(r['main_thread_pct'])} % of a core over "
                   f"{r['redraws']} redraws)"),
            Figure("of it, the device panels (build + paint, all of them) and the rows repainted per redraw",
                   f"{_f(build / 1000)} ms, {_f(rows, 1)} rows of 50")]


def floor(r: Result) -> list[Figure]:
    """What sampling and recording cost before any drawing (the wakes, the warm work), against the native tools."""
    programs = r["programs"]
    out = [Figure("a thread's wakes alone at 10 / 100 Hz; a plain Textual app redrawing 12 / 48 rows at 2 fps",
                  f"{_f(programs['wake-10'].get('cpu_pct'))} / {_f(programs['wake-100'].get('cpu_pct'))}, "
                  f"{_f(programs['textual-12'].get('cpu_pct'))} / {_f(programs['textual-48'].get('cpu_pct'))} "
                  "% of a core")]
    for rate, f in r["floors"].items():
        out.append(Figure(f"floor at {rate} before any drawing (wakes + warm sampler and recorder "
                          f"{_f(f['warm_work_pct'])} %) ÷ btop 100 ms, ÷ glances -t 1",
                          f"{_f(f['floor_pct'])} % of a core: {_f(f['over_btop_100'])}×, {_f(f['over_glances_1s'])}×"))
    return out


def panes(r: Result) -> list[Figure]:
    shown = r["results"]
    base = shown["no workload"]["main_thread_pct"]
    return [Figure(f"dashboard main thread (headless, 160x50, 4 GPUs) with {what} of a live workload, against none",
                   f"{_f(shown[label]['main_thread_pct'])} vs {_f(base)} % of a core "
                   f"({_f(shown[label]['main_thread_pct'] / base)}×)")
            for label, what in (("panes", "the spans and metrics panes"), ("panes+overlay", "the panes and the overlay"))]


def replay(r: Result) -> list[Figure]:
    opened, seek, rss, ok = r["open"], r["seek"], r["rss_mb"], r["pass"]
    targets = r["targets"]
    first = max([opened["first_frame_first_s"], *opened["first_frame_more_s"]])
    rows = r["session"]["rows"]
    return [
        Figure(f"first frame of a {r['session']['hours']:g} h session ({rows:,} rows), slowest of the opens",
               _f(first * 1000, 0, " ms"), f"< {targets['first_frame_s']:g} s", ok["first_frame"]),
        Figure("seek to a random row, median / p95", f"{_f(seek['latency_median_ms'], 0)} / "
               f"{_f(seek['latency_p95_ms'], 0)} ms", f"p95 < {targets['seek_p95_ms']:g} ms", ok["seek"]),
        Figure("RSS after opening / after the seeks", f"{_f(rss['after_open'], 0)} / {_f(rss['after_seeks'], 0)} MB",
               f"< {targets['rss_mb']:g} MB", ok["rss"]),
        Figure("playback at x1000", f"{_f(r['playback_x1000']['rate_fraction'] * 100, 1)} % of x1000",
               f"≥ {targets['keep_up_fraction'] * 100:g} %", ok["keeps_up"]),
        *_many_events(r.get("many_events")),
    ]


def _many_events(events: dict[str, Any] | None) -> list[Figure]:
    if not events:
        return []
    lookup = events["lookup"]
    return [Figure(f"{events['events']:,} events: first frame / seek p95 / x1000",
                   f"{_f(events['first_frame_s'] * 1000, 0)} / {_f(events['seek']['latency_p95_ms'], 0)} ms / "
                   f"{_f(events['playback_x1000']['rate_fraction'] * 100, 1)} %"),
            Figure("events of one x1000 step: bisection / the former scan of every event",
                   f"{_f(lookup['cursor_us'], 0)} / {_f(lookup['scan_us'], 0)} µs "
                   f"({lookup['scan_us'] / max(lookup['cursor_us'], 1e-9):.0f}× faster)")]


def probe(r: Result) -> list[Figure]:
    running = r["conditions"][0]
    target = r["target_us"]
    out = []
    for label, call in running["calls"].items():
        per_event = call["median_us"] / call["events_per_call"]
        out.append(Figure(f"probe `{label}`, median per call ({running['condition']})",
                          _f(call["median_us"], 2, " µs"), f"< {target:g} µs an event", per_event < target))
    imports = r["import"]
    total = imports["import_ms"] + imports["first_use_ms"]
    out.append(Figure("`import rigscope` + first probe call", f"{_f(imports['import_ms'], 1)} + "
                      f"{_f(imports['first_use_ms'], 1)} ms", "< 50 ms", total < 50.0))
    return out


def http(r: Result) -> list[Figure]:
    out = []
    for s in r["scrape"]:
        goal = "p99 < 5 ms" if s["pass"] is not None else ""
        out.append(Figure(f"{s['measure']}, {r['gpus']} simulated GPUs", f"p50 {_f(s['p50_ms'])} / "
                          f"p99 {_f(s['p99_ms'])} ms", goal, s["pass"]))
    renders = {s["measure"]: s["p50_ms"] for s in r["scrape"]}
    ours, theirs = renders.get("render only (the exporter's memoizing encoder)"), renders.get(
        "render only (generate_latest)")
    if ours and theirs:
        out.append(Figure("render, the exporter's encoder / generate_latest, same run (p50)",
                          f"{_f(ours)} / {_f(theirs)} ms ({theirs / ours:.1f}× faster)"))
    quiet, scraped = r["lag"]
    out.append(Figure(f"`sample_lag_ms` p99 at {r['hz']:g} Hz with 100 scrapes/s / without",
                      f"{_f(scraped['p99_ms'])} / {_f(quiet['p99_ms'])} ms ({r['lag_p99_delta_ms']:+.2f} ms)",
                      "within 1 ms", r["lag_pass"]))
    return out


def slowloris(r: Result) -> list[Figure]:
    quiet, attacked = r["lag"]
    health = [(d["healthz_ok"], d["healthz_failed"]) for d in r["rounds_detail"]]
    answered, asked = sum(ok for ok, _ in health), sum(ok + failed for ok, failed in health)
    return [
        Figure(f"`sample_lag_ms` p99 at {r['hz']:g} Hz with {r['connections']:,} slowloris connections / without",
               f"{_f(attacked['p99_ms'])} / {_f(quiet['p99_ms'])} ms ({r['lag_p99_delta_ms']:+.2f} ms)",
               "within 1 ms", r["lag_pass"]),
        Figure("recording under the attack: samples / expected, notices; `/healthz` answered",
               f"{r['samples']:,} / {r['expected_samples']:,.0f}, {len(r['notices'])}; {answered} of {asked}",
               "every sample, no notice", r["recording_pass"]),
    ]


def catalog(r: Result) -> list[Figure]:
    return [
        Figure(f"`rigscope ls` over {r['sessions']} sessions, whole command, median / max of {r['runs']}",
               f"{_f(r['ls_median_s'], 3)} / {_f(r['ls_max_s'], 3)} s (interpreter start alone "
               f"{_f(r['python_start_median_s'], 3)} s)", f"< {r['target_s']:g} s", r["ls_median_s"] < r["target_s"]),
        Figure("`rigscope ls --json`, median; `catalog()` in one process",
               f"{_f(r['ls_json_median_s'], 3)} s; {_f(r['catalog_in_process_s'], 3)} s",
               f"< {r['target_s']:g} s", r["ls_json_median_s"] < r["target_s"]),
    ]


def importing(r: Result) -> list[Figure]:
    """`rigscope import` of a generated nvidia-smi log, in a fresh process."""
    return [Figure(f"`rigscope import` of {r['days']:g} days of {r['gpus']} GPUs at 1 Hz ({r['rows']:,} nvidia-smi rows, "
                   f"{_f(r['file_mb'], 0)} MB): peak RSS; throughput",
                   f"{_f(r['peak_rss_mb'], 0)} MB; {_f(r['rows_per_s'], 0)} rows/s ({_f(r['wall_s'], 0)} s)",
                   f"< {r['target_mb']:g} MB for a week", r["pass"])]


def report(r: Result) -> list[Figure]:
    """`rigscope report` on one long session and `rigscope compare --all` over several, fresh processes."""
    medians, seconds, targets = r["median_s"], r["seconds"], r["targets_s"]
    pngs = r.get("pngs", True)
    no_pngs = "; no PNGs: matplotlib not installed"
    what = {"report": f"`rigscope report` on a {r['hours']:g} h, 10 Hz, one-GPU session ({r['rows_per_session']:,} rows)",
            "report --plots": f"the same with `--plots DIR` (3 text plots{', 3 PNGs' if pngs else no_pngs})",
            "compare --all": f"`rigscope compare --all` over {r['sessions_compared']} such sessions, terminal output",
            "compare --all --out": f"the same with `--out DIR` (CSV, JSON, markdown{', 6 PNGs' if pngs else no_pngs})"}
    out = []
    for name, label in what.items():
        target = targets.get(name)
        out.append(Figure(f"{label}, median of {len(seconds[name])} fresh processes",
                          f"{_f(medians[name])} s (runs {_f(min(seconds[name]))} to {_f(max(seconds[name]))} s)",
                          f"< {target:g} s" if target else "", _below(medians[name], target) if target else None))
    return out


def stream_memory(r: Result) -> list[Figure]:
    """Peak RSS of `report` and `analyze` at each session length, and the day at the measured slope."""
    out = []
    for command in ("report", "analyze"):
        peaks = " / ".join(_f(x[command]["peak_rss_mb"], 0) for x in r["results"])
        lengths = " / ".join(f"{x['minutes']:g}" for x in r["results"])
        day = r["day_estimate_mb"][command]
        out.append(Figure(f"`rigscope {command}` peak RSS, {r['gpus']} GPUs at {r['hz']:g} Hz, {lengths} min",
                          f"{peaks} MB ({_f(r['slope_mb_per_hour'][command], 1)} MB per hour; 24 h: {_f(day, 0)} MB)",
                          f"24 h < {r['target_mb']:g} MB", _below(day, r["target_mb"])))
    return out


def timeline(r: Result) -> list[Figure]:
    """`rigscope export --to perfetto|chrome-trace` of long sessions, one fresh process each."""
    out = []
    for session, kinds in r["exports"].items():
        for kind, e in kinds.items():
            out.append(Figure(f"`rigscope export --to {kind}` of a {session}, 10 Hz session ({e['events']:,} events, "
                              f"{_f(e['file_mb'], 0)} MB): wall time; peak RSS",
                              f"{_f(e['wall_s'], 1)} s; {_f(e['peak_rss_mb'], 0)} MB",
                              f"< {r['target_rss_mb']:g} MB", e["peak_rss_mb"] < r["target_rss_mb"]))
    return out


def processes(r: Result) -> list[Figure]:
    out = []
    for c in r["cpu"]:
        which = "GPU processes (default)" if not c["top"] else f"and --proc-top {c['top']}"
        out.append(Figure(f"process tier every {r['interval_s']:g} s, {r['host_processes']} host processes, "
                          f"{r['gpus']} GPUs with {r['gpu_processes']} GPU processes: {which}",
                          f"{_f(c['core_pct'])} % of a core ({_f(c['cpu_ms_per_tick_mean'], 1)} ms a tick)",
                          "< 1 %" if "pass" in c else "", c.get("pass")))
    off, on = r["lag"][0], r["lag"][1]
    out.append(Figure("`sample_lag_ms` p99 at 10 Hz with the slow tier / without",
                      f"{_f(on['p99_ms'])} / {_f(off['p99_ms'])} ms ({r['p99_delta_ms']:+.2f} ms)",
                      "within 1 ms", r["lag_pass"]))
    return out


def attach(r: Result) -> list[Figure]:
    """Viewers of a recorder (`rigscope attach`), and the first frame of one that has run a day."""
    out = []
    viewers = r.get("viewers", {}).get("rows", [])
    for row in viewers[1:]:
        who = "a real dashboard in tmux" if row.get("dashboard") else f"{row['viewers']} viewer(s)"
        out.append(Figure(f"recorder CPU at {r['hz']:g} Hz, {r['gpus']} simulated GPUs, {who} attached / none", f"{_f(row['cpu_pct'])} / {_f(viewers[0]['cpu_pct'])} % of a core "
                          f"({_f(row['cpu_per_viewer_pct'])} % per viewer)", "< 0.3 % per viewer",
                          row["cpu_per_viewer_pct"] < 0.3))
        out.append(Figure(f"`sample_lag_ms` p99 with {who} / none",
                          f"{_f(row['p99_ms'])} / {_f(viewers[0]['p99_ms'])} ms ({row['lag_p99_delta_ms']:+.2f} ms)",
                          "within 1 ms", row["lag_p99_delta_ms"] < 1.0))
    first = r.get("first_frame")
    if first:
        out.append(Figure(f"first frame of `rigscope attach` on a recorder that has run {first['hours']:g} h "
                          f"({first['parts']} parts), p50 / max", f"{_f(first['first_frame_p50_s'])} / "
                          f"{_f(first['first_frame_max_s'])} s", "< 1 s", first["pass"]))
    return out
