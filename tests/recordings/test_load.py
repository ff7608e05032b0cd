"""Load: sampling at 100 Hz while a probe floods the monitor with events.

The rate limit (20,000 events/s sustained) runs on a virtual clock, so "10,000 events/s" and
"a flood" are exact rates and nothing depends on this machine's speed.  Below the limit every
event reaches the session's events.jsonl; above it the excess is dropped, counted, and shown
in `record`'s status line, and nothing crashes.  (The sample-lag under this load, with both
cores busy, is measured by bench/bench_load.py.)
"""

from __future__ import annotations

import json

import pytest

from collectors.receiver import RATE_LIMIT, TokenBucket
from recordings.events import read_events
from rigscope.monitor import Monitor, MonitorConfig
from rigscope.record_command import status_line
from tests.waiting import wait_sync

BURST = 1000  # a smaller burst than the default keeps the test small; the rate is the real one
CHUNK = 250


class Virtual:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def metric(i: int) -> bytes:
    return json.dumps({"ts": "2026-01-01T00:00:00.000000Z", "kind": "metric", "name": "loss", "value": float(i),
                       "step": i}).encode()


def flood(monitor: Monitor, clock: Virtual, rate: float, seconds: float, first: int) -> int:
    """`rate` events/s for `seconds` of the limiter's clock, through the receiver's datagram path.

    The events go in chunks, and each chunk is let through to the recorder before the next, as
    the receiver thread would hand them at that rate: the count on disk does not race the test."""
    receiver = monitor.receiver
    assert receiver is not None
    count = int(rate * seconds)
    for start in range(0, count, CHUNK):
        for i in range(start, min(count, start + CHUNK)):
            clock.now += 1.0 / rate
            receiver.take_datagram(metric(first + i))
        taken = receiver.received
        wait_sync(lambda: monitor.recorder.events.count >= taken, 20, "the recorder to take the events")
    return count


@pytest.fixture
def monitor(tmp_path):
    monitor = Monitor(MonitorConfig(source="sim", hz=100.0, duration_s=None, directory=str(tmp_path)))
    monitor.start()
    yield monitor
    monitor.request_stop()
    monitor.stop()


def test_a_probe_flood_at_100_hz_drops_and_counts_only_above_the_limit(monitor):
    clock = Virtual()
    monitor.receiver.limiter = TokenBucket(RATE_LIMIT, BURST, clock=clock)
    below = flood(monitor, clock, 10_000.0, 0.25, first=0)
    assert monitor.event_stats()["received"] == below and monitor.event_stats()["rate_limited"] == 0
    assert "rate-limited" not in status_line(monitor)

    offered = flood(monitor, clock, 3 * RATE_LIMIT, 0.25, first=below)
    limited = monitor.event_stats()["rate_limited"]
    accepted = monitor.event_stats()["received"] - below
    assert accepted + limited == offered
    assert accepted == pytest.approx(BURST + RATE_LIMIT * 0.25, abs=2)  # the bucket, then its rate
    assert f"events rate-limited {limited}" in status_line(monitor)
    samples_before = monitor.stats.samples
    wait_sync(lambda: monitor.stats.samples > samples_before + 10, 20, "sampling to go on")

    monitor.request_stop()
    monitor.stop()
    assert f"events rate-limited {limited}" in status_line(monitor)  # the last line, after stop
    events = [e for e in read_events(monitor.session / "events.jsonl") if e["kind"] == "metric"]
    assert len(events) == below + accepted  # none lost below the limit, none beyond what was let in
    assert [e["step"] for e in events[:below]] == list(range(below))
    meta = json.loads((monitor.session / "meta.json").read_text())
    assert meta["status"] == "complete" and meta["total_samples"] > 0
