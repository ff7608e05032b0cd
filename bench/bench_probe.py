"""The probe's cost in the workload: µs per call, CPU per event, delivery; and what `import rigscope` costs.

Per call: each probe call (`metric`, `tag`, `note`, a whole `with rigscope.span(...)`
block, which sends two events, and its enter and exit apart) is timed in bursts
of `BURST` calls with `perf_counter_ns`; the figure is the median over the bursts
of the mean per call.  Between bursts the queue is flushed, untimed, so the bursts
measure the caller's side: encoding and queueing.  The sender thread's work
(datagrams, a syscall each) is in "CPU per event": the process's CPU time over
the whole run, bursts and flushes, divided by the events handed over.

Four conditions, in one run: a recorder running, reached over its Unix socket (the
default; the monitor's own `EventReceiver`, in another process, counting what
arrives); the same recorder reached over UDP on loopback with the token
(`--probe-udp`, the transport every probe used before the per-user sockets);
no recorder at all (every event dropped and counted); and the probe off
(`RIGSCOPE_PROBE=off`).

Import: `import rigscope` in a fresh interpreter (median of 20, the interpreter's
own start subtracted), the first use that loads the probe, and whether Textual,
polars, psutil or NVML got loaded.  Target: under 50 ms, none of them.

Run: python bench/bench_probe.py [--quick] [--bursts N]
Prints tables and writes bench/results/probe.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

from common import ROOT, median, percentile, print_table, verdict, write_result  # noqa: I001  (bench/ is on sys.path)

TARGET_US = 5.0
IMPORT_TARGET_MS = 50.0
BURST = 1000
PAUSE_S = 0.01

RECEIVER = """
import sys, time
from collectors.receiver import EventReceiver, TokenBucket
from rigscope.local_channel import new_socket_path
count = [0]
receiver = EventReceiver(lambda event: count.__setitem__(0, count[0] + 1),
                         limiter=TokenBucket(rate=1e12, burst=1e12))  # count everything: no rate limit here
receiver.kind_limits = {}
receiver.listen_local(new_socket_path("20200101-000000-bench"))
port = receiver.listen_udp(0, "bench-token")
receiver.start()
print(port, flush=True)
for line in sys.stdin:
    print(count[0], receiver.rejected + receiver.refused_token, flush=True)
"""
SETTINGS = ("RIGSCOPE_PROBE", "RIGSCOPE_PROBE_UDP", "RIGSCOPE_TOKEN", "RIGSCOPE_SESSION", "XDG_RUNTIME_DIR")


def calls(rigscope: Any) -> dict[str, tuple[Any, int]]:
    """Name -> (one call, events it sends)."""

    def span_block(i: int) -> None:
        with rigscope.span("synthesis", request_id=i, tokens=150, audio_s=3.2, quantization_used="INT8"):
            pass

    def bare_span(i: int) -> None:
        with rigscope.span("step"):
            pass

    return {
        "metric(name, value, step)": (lambda i: rigscope.metric("grad_norm", 1.7, step=i), 1),
        "tag(state)": (lambda i: rigscope.tag("train"), 1),
        "note(text)": (lambda i: rigscope.note("lr dropped to 1e-4"), 1),
        "with span(name, 4 attrs)": (span_block, 2),
        "with span(name)": (bare_span, 2),
    }


def settle(flush: Any) -> None:
    """Between bursts, untimed: send what is queued, and give the monitor time to read it."""
    flush(1.0)
    time.sleep(PAUSE_S)


def time_bursts(call: Any, bursts: int, flush: Any) -> list[float]:
    """Mean µs per call of each burst."""
    results = []
    for _ in range(bursts):
        start = time.perf_counter_ns()
        for i in range(BURST):
            call(i)
        results.append((time.perf_counter_ns() - start) / BURST / 1000)
        settle(flush)
    return results


def enter_exit(rigscope: Any, bursts: int, flush: Any) -> dict[str, list[float]]:
    """Span enter and exit timed apart (each burst: BURST enters, then BURST exits, innermost first)."""
    enter, leave = [], []
    for _ in range(bursts):
        scopes = [rigscope.span("synthesis", request_id=i, tokens=150, audio_s=3.2, quantization_used="INT8")
                  for i in range(BURST)]
        start = time.perf_counter_ns()
        for scope in scopes:
            scope.__enter__()
        middle = time.perf_counter_ns()
        for scope in reversed(scopes):
            scope.__exit__(None, None, None)
        end = time.perf_counter_ns()
        enter.append((middle - start) / BURST / 1000)
        leave.append((end - middle) / BURST / 1000)
        settle(flush)
    return {"span enter (4 attrs)": enter, "span exit": leave}


def run_condition(name: str, env: dict[str, str], bursts: int) -> dict[str, Any]:
    """All calls under one condition (the probe's settings in `env`), in a fresh probe state."""
    for key in SETTINGS:
        os.environ.pop(key, None)
    os.environ.update(env)
    import rigscope
    from rigscope import probe

    probe.reset()
    for call, _ in calls(rigscope).values():
        time_bursts(call, 2, probe.flush)  # warm up
    probe.flush(1.0)
    warm = probe.stats()
    cpu_start = time.process_time()
    rows: dict[str, dict[str, Any]] = {}
    events = 0
    for label, (call, per_call) in calls(rigscope).items():
        samples = time_bursts(call, bursts, probe.flush)
        events += bursts * BURST * per_call
        rows[label] = {"median_us": median(samples), "p90_us": percentile(samples, 90), "events_per_call": per_call}
    for label, samples in enter_exit(rigscope, bursts, probe.flush).items():
        rows[label] = {"median_us": median(samples), "p90_us": percentile(samples, 90), "events_per_call": 1}
        events += bursts * BURST
    probe.flush(2.0)
    cpu_s = time.process_time() - cpu_start  # the pauses sleep: no CPU
    stats = probe.stats()
    return {"condition": name, "calls": rows, "events": events, "cpu_us_per_event": cpu_s / events * 1e6,
            "sent": stats["sent"] - warm["sent"], "dropped": stats["dropped"] - warm["dropped"],
            "warm_up_events": warm["sent"] + warm["dropped"]}


def import_figures(runs: int) -> dict[str, Any]:
    env = {**os.environ, "RIGSCOPE_PROBE": "off"}
    timer = ("import time, sys\nt = time.perf_counter()\nimport rigscope\nt1 = time.perf_counter()\n"
             "rigscope.span\nt2 = time.perf_counter()\n"
             "heavy = [m for m in ('textual', 'polars', 'psutil', 'pynvml') if m in sys.modules]\n"
             "print((t1 - t) * 1e3, (t2 - t1) * 1e3, ','.join(heavy))\n")
    imports, first_use, wall, bare = [], [], [], []
    heavy: set[str] = set()
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", timer], capture_output=True, text=True, cwd=ROOT, env=env,
                             check=True).stdout.split()
        wall.append((time.perf_counter() - start) * 1e3)
        imports.append(float(out[0]))
        first_use.append(float(out[1]))
        heavy.update(out[2].split(",") if len(out) > 2 and out[2] else [])
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], cwd=ROOT, env=env, check=True)
        bare.append((time.perf_counter() - start) * 1e3)
    return {"import_ms": median(imports), "first_use_ms": median(first_use),
            "process_wall_ms": median(wall), "bare_interpreter_ms": median(bare),
            "heavy_modules_loaded": sorted(heavy), "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer bursts (smoke run)")
    parser.add_argument("--bursts", type=int, default=None, help="bursts per call (default 200; 20 quick)")
    options = parser.parse_args()
    bursts = options.bursts or (20 if options.quick else 200)

    runtime, empty = tempfile.mkdtemp(prefix="rs-bench-"), tempfile.mkdtemp(prefix="rs-bench-")
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True, cwd=ROOT, env={**os.environ, "XDG_RUNTIME_DIR": runtime})
    assert receiver.stdout is not None and receiver.stdin is not None
    port = receiver.stdout.readline().strip()
    conditions = []
    try:
        for name, env in (("local socket", {"XDG_RUNTIME_DIR": runtime}),
                          ("UDP + token", {"XDG_RUNTIME_DIR": empty, "RIGSCOPE_PROBE_UDP": port,
                                           "RIGSCOPE_TOKEN": "bench-token"})):
            print(f"recorder running, {name}: {bursts} bursts of {BURST} calls per call", flush=True)
            running = run_condition(name, env, bursts)
            time.sleep(0.5)
            receiver.stdin.write("count\n")
            receiver.stdin.flush()
            received, rejected = (int(v) for v in receiver.stdout.readline().split())
            before = sum(c["received"] + c["warm_up_events"] for c in conditions)
            running.update(received=received - before - running["warm_up_events"], rejected=rejected)
            conditions.append(running)
    finally:
        receiver.stdin.close()
        receiver.wait(timeout=10)
    print("no recorder", flush=True)
    conditions.append(run_condition("no recorder", {"XDG_RUNTIME_DIR": empty}, bursts))
    print("probe off (RIGSCOPE_PROBE=off)", flush=True)
    conditions.append(run_condition("probe off", {"RIGSCOPE_PROBE": "off"}, bursts))
    for folder in (runtime, empty):
        shutil.rmtree(folder, ignore_errors=True)
    figures = import_figures(5 if options.quick else 20)

    rows = []
    for label, first in conditions[0]["calls"].items():
        per_event = first["median_us"] / first["events_per_call"]
        rows.append([label, *(c["calls"][label]["median_us"] for c in conditions), first["events_per_call"],
                     verdict(per_event < TARGET_US)])
    print_table(["call", *(f"{c['condition']} µs" for c in conditions), "events", f"< {TARGET_US:g} µs/event"],
                rows, title="median µs per call (caller's side)")
    print_table(["condition", "events", "CPU µs/event", "sent", "dropped", "received"],
                [[c["condition"], c["events"], c["cpu_us_per_event"], c["sent"], c["dropped"], c.get("received")]
                 for c in conditions], title="whole process: CPU per event (sender thread included), delivery")
    print_table(["import rigscope", "ms"],
                [["import rigscope (in-process)", figures["import_ms"]],
                 ["first use (loads rigscope.probe)", figures["first_use_ms"]],
                 ["python -c 'import rigscope' (wall)", figures["process_wall_ms"]],
                 ["python -c pass (wall)", figures["bare_interpreter_ms"]],
                 ["heavy modules loaded", ", ".join(figures["heavy_modules_loaded"]) or "none"],
                 ["import < 50 ms", verdict(figures["import_ms"] + figures["first_use_ms"] < IMPORT_TARGET_MS)]],
                title="import cost")
    write_result("probe", {"quick": options.quick, "burst": BURST, "bursts": bursts, "target_us": TARGET_US,
                           "conditions": conditions, "import": figures})


if __name__ == "__main__":
    main()
