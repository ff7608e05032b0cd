"""What one posted event costs on the live frame stream: `Sampler.post_event` into the queues of a live
session's five sinks, and those sinks taking it out again (µs per event), and what the queues dropped.

A round posts `--events` probe metrics as fast as one thread can (a burst), then the sampler ends
(it hands out what is pending, then END) and each queue is drained; the figure is the median over
the rounds of (post + drain time) / events.  The stream runs on real time, so its queues are the
bounded, lossy ones of a live session.

Run: python bench/bench_post_event.py [--events N] [--rounds N]
"""

from __future__ import annotations

import argparse
import time

from common import median  # noqa: I001  (bench/ is on sys.path)

from collectors.clock import RealClock
from collectors.sampler import END, FrameQueue, Sampler
from collectors.stream import EXPORTER, PROCESS_TIER, SCREEN, SESSION_WRITER, SPAN_ASSEMBLER
from collectors.timeutil import iso_from_us

SINKS = (SESSION_WRITER, SPAN_ASSEMBLER, PROCESS_TIER, EXPORTER, SCREEN)


def drain(frames: FrameQueue) -> int:
    """Take every batch up to END; the events they held."""
    events = 0
    while (batch := frames.get(timeout=0)) is not END:
        events += len(batch.events) if batch is not None else 0
    return events


def one_round(count: int) -> tuple[float, int, int]:
    """(µs per event, events the session writer got, batches dropped over all queues)."""
    events = [{"kind": "metric", "ts": iso_from_us(j), "name": "flood", "value": 1.0, "step": j} for j in range(count)]
    sampler = Sampler([], hz=10, clock=RealClock())
    queues = [sampler.subscribe(sink) for sink in SINKS]
    sampler.stop()
    start = time.perf_counter()
    for event in events:
        sampler.post_event(event)
    sampler.run_inline()  # stopped: hands out what is pending, then END
    taken = [drain(frames) for frames in queues]
    elapsed = time.perf_counter() - start
    return elapsed / count * 1e6, taken[0], sum(q.dropped for q in queues)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    results = [one_round(args.events) for _ in range(args.rounds)]
    print(f"{args.events:,} events a round, {args.rounds} rounds: "
          f"{median([r[0] for r in results]):.2f} µs per event (post + 5 sinks draining), "
          f"session writer got {min(r[1] for r in results):,}, queues dropped {max(r[2] for r in results):,} batches")


if __name__ == "__main__":
    main()
