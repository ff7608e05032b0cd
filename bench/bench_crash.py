"""Crash safety: what a `kill -9` of a real-time recording loses, and whether the session opens and repairs.

20 times (5 with --quick): start `rigscope record --source sim --hz 20
--flush-interval 1 --dir TMP/i` (real time), wait until its first journal
exists and is non-empty, sleep a random 0.5-3 s (seeded), `kill -9` it.  Then:
gap = wall time of the kill - `ts` of the last recorded sample (read with
`recordings.reader.read_samples`); loss = the samples due in that gap (floor(gap * hz))
times the sample period, i.e. the span of data taken but not kept (the gap itself also
holds the wait from the last kept sample to the next one, up to a period); the session opens (read_samples gives rows);
`rigscope repair latest --dir TMP/i` succeeds and meta.json says
`interrupted` with `total_samples` equal to the rows read before the repair.

Target (issue): loss <= the flush interval (1 s): at most a second of samples.

Run: python bench/bench_crash.py [--quick] [--kills N] [--seed N] [--hz HZ]
Prints a table and writes bench/results/crash.json (crash-<HZ>hz.json at another rate).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
from common import median, print_table, rigscope_command, verdict, write_result  # noqa: I001  (bench/ is on sys.path)

from recordings.reader import read_samples

HZ = 20
FLUSH_INTERVAL_S = 1.0
START_TIMEOUT_S = 60.0


def first_journal(root: Path) -> Path | None:
    journals = sorted(root.glob("*/samples/part-*.journal"))
    return journals[0] if journals else None


def wait_for_journal(root: Path, proc: subprocess.Popen[bytes]) -> float:
    """Seconds until the first journal exists and holds data; raises if the recorder dies first."""
    start = time.monotonic()
    while time.monotonic() - start < START_TIMEOUT_S:
        if proc.poll() is not None:
            raise RuntimeError(f"rigscope record exited {proc.returncode} before its first flush")
        journal = first_journal(root)
        if journal is not None and journal.stat().st_size > 0:
            return time.monotonic() - start
        time.sleep(0.01)
    raise RuntimeError("no journal data within the timeout")


def crash_once(root: Path, delay_s: float, hz: float) -> dict[str, Any]:
    """Record, kill -9 after `delay_s` past the first journal data, then read and repair the session."""
    command = rigscope_command("record", "--source", "sim", "--hz", f"{hz:g}",
                               "--flush-interval", f"{FLUSH_INTERVAL_S:g}", "--dir", str(root))
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        startup_s = wait_for_journal(root, proc)
        time.sleep(delay_s)
        killed_at_us = time.time_ns() // 1000
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    (session,) = (p.parent for p in root.glob("*/meta.json"))
    result: dict[str, Any] = {"delay_s": delay_s, "startup_s": startup_s, "opened": False, "repaired": False}
    try:
        table = read_samples(session)
        rows = table.height
        last_us = table.get_column("ts").dt.epoch("us").max() if rows else None
        gap_s = (killed_at_us - last_us) / 1e6 if last_us is not None else None
        result.update(opened=rows > 0, rows=rows, gap_s=gap_s,
                      loss_s=math.floor(gap_s * hz) / hz if gap_s is not None else None)
    except Exception as error:  # noqa: BLE001 (a session that does not open is the finding)
        result.update(open_error=f"{type(error).__name__}: {error}")
        return result
    repair = subprocess.run(rigscope_command("repair", "latest", "--dir", str(root)),
                            capture_output=True, text=True)
    meta = json.loads((session / "meta.json").read_text())
    result.update(repair_exit=repair.returncode, status=meta.get("status"), total_samples=meta.get("total_samples"))
    result["repaired"] = (repair.returncode == 0 and meta.get("status") == "interrupted"
                          and meta.get("total_samples") == rows)
    if repair.returncode != 0:
        result["repair_error"] = repair.stderr.strip()[-500:]
    else:
        result["rows_after_repair"] = pl.read_parquet(session / "samples.parquet").height
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 kills instead of 20 (smoke test)")
    parser.add_argument("--seed", type=int, default=20261123, help="seed of the kill delays")
    parser.add_argument("--hz", type=float, default=HZ, help=f"sample rate (default {HZ})")
    parser.add_argument("--kills", type=int, default=None, help="kills (default 20; 5 quick)")
    options = parser.parse_args()
    trials = options.kills or (5 if options.quick else 20)
    rng = random.Random(options.seed)

    results = []
    with tempfile.TemporaryDirectory(prefix="rigscope-bench-crash-") as tmp:
        for i in range(trials):
            result = crash_once(Path(tmp) / str(i), rng.uniform(0.5, 3.0), options.hz)
            loss = result.get("loss_s")
            print(f"  kill {i + 1}/{trials}: after {result['delay_s']:.2f} s, "
                  f"loss {'—' if loss is None else f'{loss:.3f} s'}, rows {result.get('rows')}, "
                  f"opened {result['opened']}, repaired {result['repaired']}", flush=True)
            results.append(result)

    losses = [r["loss_s"] for r in results if r.get("loss_s") is not None]
    figures = {
        "kills": trials,
        "max_loss_s": max(losses) if losses else None,
        "median_loss_s": median(losses) if losses else None,
        "max_gap_s": max((r["gap_s"] for r in results if r.get("gap_s") is not None), default=None),
        "opened": sum(r["opened"] for r in results),
        "repaired": sum(r["repaired"] for r in results),
    }
    ok = bool(losses) and len(losses) == trials and figures["max_loss_s"] <= FLUSH_INTERVAL_S
    rows = [
        ["max loss", f"{figures['max_loss_s']:.3f} s" if losses else "—", f"<= {FLUSH_INTERVAL_S:g} s", verdict(ok)],
        ["median loss", f"{figures['median_loss_s']:.3f} s" if losses else "—", "", ""],
        ["max gap kill - last sample", f"{figures['max_gap_s']:.3f} s" if losses else "—", "", ""],
        ["sessions that open", f"{figures['opened']} / {trials}", f"{trials} / {trials}",
         verdict(figures["opened"] == trials)],
        ["sessions repaired", f"{figures['repaired']} / {trials}", f"{trials} / {trials}",
         verdict(figures["repaired"] == trials)],
    ]
    print_table(["measure", "value", "target", ""], rows,
                title=f"kill -9 of rigscope record at {options.hz:g} Hz, flush interval {FLUSH_INTERVAL_S:g} s")
    name = "crash" if options.hz == HZ else f"crash-{options.hz:g}hz"
    write_result(name, {"quick": options.quick, "seed": options.seed, "hz": options.hz,
                           "flush_interval_s": FLUSH_INTERVAL_S, "pass": ok, **figures, "trials": results})


if __name__ == "__main__":
    main()
