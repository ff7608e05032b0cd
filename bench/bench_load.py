"""Load: sample lag at 100 Hz while every core is busy and a probe floods the monitor with 10,000 events/s.

The host sampler of bench_lag (real collectors, RealClock) runs at 100 Hz in its
thread, with the real `EventReceiver` handing events to `Sampler.post_event` (as
the monitor wires it), for 30 s (10 s with --quick).  Meanwhile one busy-loop
process per core runs, and a sender process sends 10,000 `metric` events/s to
the receiver's Unix socket (ten events a datagram, as the probe batches them, paced every millisecond).
A consumer drains the frames and their events.

Reported: `sample_lag_ms` p50/p99/max, events sent, taken, dropped by the rate
limit (20,000/s: none should be here), rejected, and lost (sent but neither
taken nor counted).
Target: lag p99 < 10 ms (the busy-machine target of bench_lag), nothing lost.

Run: python bench/bench_load.py [--quick] [--seconds S]
Prints a table and writes bench/results/load.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

from bench_lag import busy_cores
from bench_sampler import host_collectors
from common import percentile, print_table, verdict, write_result  # noqa: I001  (bench/ is on sys.path)

from collectors.clock import RealClock
from collectors.receiver import EventReceiver
from collectors.sampler import Sampler
from collectors.signals import SignalPipeline
from collectors.stream import END, LossyQueue
from rigscope.local_channel import new_socket_path

HZ = 100.0
RATE = 10_000.0
PER_DATAGRAM = 10
TARGET_P99_MS = 10.0

SENDER = """
import json, socket, sys, time
path, rate, seconds, per = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
start, sent, k = time.monotonic(), 0, 0
while True:
    due = start + k * per / rate
    if due - start >= seconds:
        break
    pause = due - time.monotonic()
    if pause > 0:
        time.sleep(pause)
    lines = [json.dumps({"ts": "2026-01-01T00:00:00.000000Z", "kind": "metric", "name": "loss",
                         "value": float(sent + i), "step": sent + i}) for i in range(per)]
    sock.sendto("\\n".join(lines).encode(), path)
    sent += per
    k += 1
print(sent, flush=True)
"""


def run(seconds: float) -> dict:
    sampler = Sampler(host_collectors(), HZ, RealClock(), duration_s=seconds + 1.0, signals=SignalPipeline([]))
    receiver = EventReceiver(sampler.post_event)
    os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="rs-bench-")  # this run's socket only
    receiver.listen_local(new_socket_path("bench"))
    receiver.start()
    frames = sampler.attach(LossyQueue(0))
    lags: list[float] = []
    events = 0
    sampler.start()
    sender = subprocess.Popen([sys.executable, "-c", SENDER, str(receiver.path), str(RATE), str(seconds),
                               str(PER_DATAGRAM)], stdout=subprocess.PIPE, text=True)
    while (batch := frames.get(timeout=seconds + 30)) is not END:
        if batch is None:
            raise RuntimeError("the sampler stopped sending frames")
        if batch.frame is not None:
            lags.append(batch.frame["sample_lag_ms"])
        events += len(batch.events)
    sampler.join()
    sent = int(sender.communicate(timeout=30)[0])
    receiver.close()
    stats = receiver.stats()
    lost = sent - stats["received"] - stats["rate_limited"] - stats["rejected"]
    p99 = percentile(lags, 99)
    return {"hz": HZ, "offered_per_s": RATE, "seconds": seconds, "samples": len(lags), "missed_ticks": sampler.ticker.missed,
            "p50_ms": percentile(lags, 50), "p99_ms": p99, "max_ms": max(lags), "target_p99_ms": TARGET_P99_MS,
            "sent": sent, "accepted": stats["received"], "rate_limited": stats["rate_limited"],
            "rejected": stats["rejected"], "lost": lost, "events_in_frames": events, "pass": p99 < TARGET_P99_MS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s instead of 30 s (smoke test)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds of the run (default 30; 10 quick)")
    options = parser.parse_args()
    seconds = options.seconds or (10.0 if options.quick else 30.0)
    cores = os.cpu_count() or 1
    print(f"{seconds:g} s at {HZ:g} Hz, {cores} busy-loop processes, {RATE:,.0f} events/s", flush=True)
    with busy_cores(cores):
        result = run(seconds)
    print_table(["samples", "missed", "p50 ms", "p99 ms", "max ms", "target", ""],
                [[result["samples"], result["missed_ticks"], result["p50_ms"], result["p99_ms"], result["max_ms"],
                  f"p99 < {TARGET_P99_MS:g} ms", verdict(result["pass"])]], digits=3,
                title="sample_lag_ms under load")
    print_table(["sent", "taken", "rate-limited", "rejected", "lost", "in frames' batches"],
                [[result["sent"], result["accepted"], result["rate_limited"], result["rejected"], result["lost"],
                  result["events_in_frames"]]], title="events")
    write_result("load", {"quick": options.quick, "busy_processes": cores, **result})


if __name__ == "__main__":
    main()
