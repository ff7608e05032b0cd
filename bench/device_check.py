"""Device check for a real NVIDIA machine, in under 5 minutes: does rigscope read what the driver says?

1. The NVML tests that need hardware (pytest), and the nvml_abi tests over the mock library.
2. `rigscope record` for 60 s at 10 Hz and at 100 Hz: samples, lag, the recorder's CPU.
3. During the 10 Hz run, `nvidia-smi --query-gpu` once a second; rigscope's readings of the same
   seconds must agree within `TOLERANCES` (median absolute difference per GPU and quantity).
4. The cost of each NVML call rigscope makes, through pynvml, on GPU 0.
5. GPM and energy under a matrix-multiply load (`gpm_load_check`, torch or cupy; skipped with the
   reason without either): SM and tensor activity, counter vs integrated power, GPM's cost to the load.

Without an NVIDIA GPU it fails at once with one line.  Writes bench/results/device_check.json
and prints a table.  Run: python bench/device_check.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from common import ROOT, median, percentile, print_table, rigscope_command, verdict, write_result  # noqa: I001
from gpm_load_check import gpm_energy_check
from nvml_calls import call_costs

# nvidia-smi field -> (rigscope column suffix, scale from rigscope's unit to nvidia-smi's, tolerance,
# and why that much).  Compared: the median over matched seconds of |rigscope - nvidia-smi|.
TOLERANCES: dict[str, tuple[str, float, float, str]] = {
    "utilization.gpu": ("util_pct", 1.0, 10.0, "percent points: both read the driver's last sample window"),
    "memory.used": ("mem_used_bytes", 1 / 2**20, 1024.0, "MiB: NVML v1 counts reserved memory as used, newer "
                    "nvidia-smi does not"),
    "power.draw": ("power_w", 1.0, 15.0, "W: nvidia-smi may show a 1 s average, NVML an instant"),
    "temperature.gpu": ("temp_c", 1.0, 2.0, "degrees C"),
    "clocks.sm": ("clock_sm_mhz", 1.0, 100.0, "MHz: the SM clock moves within a second under load"),
    "clocks.mem": ("clock_mem_mhz", 1.0, 50.0, "MHz"),
}


def fail(message: str) -> None:
    print(f"device_check: {message}", file=sys.stderr)
    raise SystemExit(1)


def require_gpu() -> int:
    """The number of NVIDIA GPUs, or one line and exit 1."""
    if shutil.which("nvidia-smi") is None:
        fail("no NVIDIA GPU here (nvidia-smi not found); run this on a machine with an NVIDIA driver")
    try:
        import pynvml

        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
    except Exception as exc:  # noqa: BLE001  whatever stops NVML, the check cannot run
        fail(f"no NVIDIA GPU here (NVML: {exc})")
    if count == 0:
        fail("no NVIDIA GPU here (NVML lists none)")
    return count


def run_tests() -> dict[str, Any]:
    tests = [("hardware", ["tests/collectors/test_nvml_pynvml.py::test_real_pynvml_on_this_machine_never_raises"]),
             ("nvml_abi", ["-m", "nvml_abi", "tests/collectors"])]
    results = {}
    for name, args in tests:
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "4", "-q", *args],
                              cwd=ROOT, capture_output=True, text=True)
        results[name] = {"ok": done.returncode == 0, "seconds": time.monotonic() - started,
                         "tail": done.stdout.strip().splitlines()[-1:]}
    return results


def smi_poller(lines: list[tuple[float, str]], stop: threading.Event) -> subprocess.Popen[str]:
    fields = ",".join(["index", *TOLERANCES])
    proc = subprocess.Popen(["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits", "-l", "1"],
                            stdout=subprocess.PIPE, text=True)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if stop.is_set():
                break
            lines.append((time.time(), line.strip()))

    threading.Thread(target=read, daemon=True).start()
    return proc


def record(hz: float, seconds: float, directory: Path, smi: list[tuple[float, str]] | None) -> dict[str, Any]:
    """One `rigscope record` run: its CPU (from the kernel's accounting of the child) and its session."""
    stop = threading.Event()
    poller = smi_poller(smi, stop) if smi is not None else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(rigscope_command("record", "--hz", str(hz), "--duration", f"{seconds:g}s",
                                           "--dir", str(directory)), cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    stop.set()
    if poller is not None:
        poller.terminate()
        poller.wait()
    if done.returncode != 0:
        fail(f"rigscope record at {hz:g} Hz failed: {done.stderr.strip().splitlines()[-1:]}")
    import polars as pl

    (session,) = directory.iterdir()
    samples = pl.read_parquet(session / "samples.parquet")
    lag = samples["sample_lag_ms"].drop_nulls().to_list()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"hz": hz, "samples": samples.height, "expected": int(hz * seconds), "wall_s": wall,
            "cpu_pct_of_a_core": 100.0 * cpu / wall, "lag_p99_ms": percentile(lag, 99) if lag else None,
            "session": samples}


def compare(samples: Any, smi: list[tuple[float, str]]) -> dict[str, dict[str, Any]]:
    """Per GPU and quantity: the median |rigscope - nvidia-smi| over the seconds both have."""
    ours: dict[tuple[int, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    epoch = samples["ts"].dt.epoch("us").to_list()
    wanted = {column for column, *_ in TOLERANCES.values()}
    for name in [c for c in samples.columns if c.startswith("gpu") and "_" in c]:
        index, column = name[3:].split("_", 1)
        if not index.isdigit() or column not in wanted:
            continue
        for us, value in zip(epoch, samples[name].to_list()):
            if value is not None:
                ours[(int(index), column)][us // 1_000_000].append(float(value))
    diffs: dict[tuple[int, str], list[float]] = defaultdict(list)
    for at, line in smi:
        values = [v.strip() for v in line.split(",")]
        if len(values) != len(TOLERANCES) + 1 or not values[0].isdigit():
            continue
        for (field, (column, scale, _, _)), text in zip(TOLERANCES.items(), values[1:]):
            ours_then = ours.get((int(values[0]), column), {}).get(int(at))
            try:
                theirs = float(text)
            except ValueError:  # "[N/A]", "[Not Supported]"
                continue
            if ours_then:
                diffs[(int(values[0]), field)].append(abs(median(ours_then) * scale - theirs))
    return {f"gpu{index} {field}": {"median_abs_diff": median(d), "seconds": len(d),
                                    "tolerance": TOLERANCES[field][2], "ok": median(d) <= TOLERANCES[field][2]}
            for (index, field), d in sorted(diffs.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each record run (default 60)")
    args = parser.parse_args()
    count = require_gpu()
    import pynvml

    calls = call_costs(pynvml, pynvml.nvmlDeviceGetHandleByIndex(0), 0.3)
    tests = run_tests()
    smi: list[tuple[float, str]] = []
    with tempfile.TemporaryDirectory() as directory:
        runs = [record(hz, args.seconds, Path(directory) / f"{hz:g}hz", smi if hz == 10 else None)
                for hz in (10.0, 100.0)]
    load = gpm_energy_check(args.seconds)
    agreement = compare(runs[0].pop("session"), smi)
    runs[1].pop("session")
    print_table(["check", "result"], [(name, f"{verdict(t['ok'])} {' '.join(t['tail'])}") for name, t in tests.items()])
    print_table(["record", "samples", "expected", "% of a core", "lag p99 ms"],
                [(f"{r['hz']:g} Hz", r["samples"], r["expected"], r["cpu_pct_of_a_core"], r["lag_p99_ms"]) for r in runs])
    print_table(["vs nvidia-smi", "median |diff|", "tolerance", "seconds", "verdict"],
                [(name, a["median_abs_diff"], a["tolerance"], a["seconds"], verdict(a["ok"]))
                 for name, a in agreement.items()])
    print_table(["NVML call (GPU 0)", "us cpu", "us wall", "error"],
                [(name, c["cpu_us"], c["wall_us"], c["error"] or "") for name, c in calls.items()])
    print_table(["GPM and energy under load", "result"], [(key, value) for key, value in load.items()])
    ok = (all(t["ok"] for t in tests.values()) and all(a["ok"] for a in agreement.values()) and bool(agreement)
          and load["ok"])
    write_result("device_check", {"gpus": count, "ok": ok, "tests": tests, "records": runs, "gpm_load": load,
                                  "agreement": agreement, "tolerances": {k: v[2:] for k, v in TOLERANCES.items()},
                                  "calls_us": calls})
    print(json.dumps({"ok": ok}))
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
