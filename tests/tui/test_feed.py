"""The feed's windows: raw samples for short windows, per-second means from a minute up."""

from __future__ import annotations

from tui.feed import SeriesRing


def test_short_windows_are_raw_samples_and_long_ones_per_second_means():
    ring = SeriesRing(raw_len=1200, long_len=3600)
    for k in range(1800):  # three minutes at 10 Hz: value = the second it falls in
        ring.append(k / 10, float(k // 10))
    assert ring.window(30, 10) == tuple(float(k // 10) for k in range(1500, 1800))
    minute = ring.window(120, 10)
    assert len(minute) == 120  # one mean per finished second
    assert minute[-1] == 178.0 and minute[0] == 59.0
    assert ring.window(600, 10) == tuple(float(k) for k in range(179))  # longer than what it holds: all of it


def test_gaps_stay_null_in_both():
    ring = SeriesRing(raw_len=100, long_len=100)
    for k in range(30):
        ring.append(float(k), None if 10 <= k < 20 else 1.0)
    assert ring.window(5, 1) == (1.0,) * 5
    assert ring.window(60, 1)[10:19] == (None,) * 9


def test_a_reset_in_the_stream_empties_the_feed_before_what_follows():
    """A replay's seek: the feed's thread forgets what it showed when it reads RESET, then takes the refill."""
    from collectors.stream import RESET, Batch, LosslessQueue
    from tests.waiting import wait_sync
    from tui.feed import DashboardFeed

    frames = LosslessQueue(0)
    feed = DashboardFeed(frames, ["gpu0_util_pct"], 1.0)
    feed.start()
    for k in range(5):
        frames.offer(Batch({"elapsed_s": float(k), "gpu0_util_pct": 10.0}, ({"kind": "note", "text": "old"},)))
    frames.offer(RESET)
    frames.offer(Batch({"elapsed_s": 50.0, "gpu0_util_pct": 90.0}, ({"kind": "note", "text": "new"},)))
    frames.close()
    wait_sync(lambda: feed.snapshot(10).ended, 10, "the feed read END")
    snapshot = feed.snapshot(10)
    assert snapshot.series["gpu0_util_pct"] == (90.0,) and snapshot.frame["elapsed_s"] == 50.0
    assert [event["text"] for event in snapshot.events] == ["new"]


def test_spans_and_process_rows_come_on_the_stream_and_a_reset_forgets_them():
    """The feed counts the span rows and keeps the process rows its stream brings (live or replay alike);
    after a RESET it shows the refill at once, not the spans and processes of before."""
    from collectors.process_rows import ProcessSnapshot
    from collectors.stream import RESET, Batch, LosslessQueue
    from tests.waiting import wait_sync
    from tui.feed import NO_PROCESSES, DashboardFeed

    def span(number: int, success: bool = True) -> dict:
        return {"request_id": f"r{number}", "name": "synthesis", "total_duration_s": 0.5 + number,
                "success": success, "end_time": f"2027-01-15T08:00:{number:02d}Z"}

    frames = LosslessQueue(0)
    feed = DashboardFeed(frames, ["gpu0_util_pct"], 1.0)
    assert feed.processes() is NO_PROCESSES and feed.snapshot(10).spans.total == 0
    feed.start()
    frames.offer(Batch(None, spans=(span(1), span(2, success=False))))
    frames.offer(Batch(None, processes=ProcessSnapshot(3, 1_000_000, ({"pid": 7},))))
    wait_sync(lambda: feed.snapshot(10).spans.total == 2 and feed.processes().version == 3, 10, "spans, processes")
    assert feed.snapshot(10).spans.summary["success_rate"] == 0.5
    frames.offer(RESET)
    frames.offer(Batch(None, spans=(span(1),)))
    frames.close()
    wait_sync(lambda: feed.snapshot(10).ended, 10, "the feed read END")
    snapshot = feed.snapshot(10)
    assert snapshot.spans.total == 1 and [row["request_id"] for row in snapshot.spans.recent] == ["r1"]
    assert feed.processes() is NO_PROCESSES


def test_a_live_monitor_tells_its_spans_and_process_rows_to_the_screen_sink_only():
    """Live, the span assembler and the process tier publish their records on the sampler's stream, to
    the screen's queue (a `side_records` sink), not to the sinks that read frames alone."""
    from collectors.stream import END, EXPORTER, SCREEN
    from rigscope.monitor import Monitor, MonitorConfig

    monitor = Monitor(MonitorConfig(source="sim", speed=4.0, hz=10, duration_s=8.0, record=False,
                                    receive_events=False, proc_interval_s=1.0))  # 80 frames: the queues hold them
    screen, exporter = monitor.subscribe(SCREEN), monitor.subscribe(EXPORTER)
    monitor.post("span_start", span_id="s1", name="synthesis")
    monitor.start()
    monitor.post("span_end", span_id="s1", name="synthesis", success=True)
    monitor.wait()
    monitor.stop()

    def drained(frames) -> list:
        found = []
        while (batch := frames.get(timeout=0)) not in (None, END):
            found.append(batch)
        return found

    told = drained(screen)
    assert [row["request_id"] for batch in told for row in batch.spans] == ["s1"]
    processes = [batch.processes for batch in told if batch.processes is not None]
    assert len(processes) >= 5 and [p.version for p in processes] == list(range(1, len(processes) + 1))
    latest = monitor.process_snapshot()
    assert latest is not None
    # the tier may finish one more tick after the sampler's END reached the screen's queue
    assert latest.version - processes[-1].version in (0, 1)
    if latest.version == processes[-1].version:
        assert processes[-1] == latest
    assert not any(batch.spans or batch.processes for batch in drained(exporter))


def test_after_a_reset_the_spans_that_follow_the_frames_show_without_waiting_for_the_next_copy():
    """A seek publishes its frames, then every span ended by then: the frames' empty copy of the spans
    does not hold the spans back for SPANS_EVERY_S."""
    from collectors.stream import Batch
    from tui.feed import DashboardFeed

    feed = DashboardFeed(None, ["gpu0_util_pct"], 1.0)
    row = {"request_id": "r1", "name": "synthesis", "total_duration_s": 1.0, "success": True}
    feed.take(Batch(None, spans=(row,)))
    feed.take(Batch(None, spans=(dict(row, request_id="r2"),)))  # within SPANS_EVERY_S: held back
    assert feed.snapshot(10).spans.total in (1, 2)
    feed.reset()
    feed.take(Batch({"elapsed_s": 1.0, "gpu0_util_pct": 5.0}))
    feed.take(Batch(None, spans=(row,)))
    assert feed.snapshot(10).spans.total == 1


def test_what_came_since_the_last_look_is_taken_at_once_and_moves_the_version_once():
    """At 100 Hz a look of the feed's thread finds a quarter second of frames: it takes them under one lock,
    the screen sees one new version, and a RESET among them still empties what came before it."""
    from collectors.stream import RESET, Batch, PolledQueue
    from tests.waiting import wait_sync
    from tui.feed import DashboardFeed

    frames = PolledQueue(1000, 0.05)
    for k in range(25):
        frames.offer(Batch({"elapsed_s": k / 100, "gpu0_util_pct": float(k)}))
    feed = DashboardFeed(frames, ["gpu0_util_pct"], 100.0)
    before = feed.version
    feed.start()
    wait_sync(lambda: feed.snapshot(0.25).frame.get("elapsed_s") == 0.24, 5, "the 25 frames")
    assert feed.version == before + 1
    assert feed.snapshot(0.25, ["gpu0_util_pct"]).series["gpu0_util_pct"] == tuple(float(k) for k in range(25))

    for k in range(3):
        frames.offer(Batch({"elapsed_s": 1.0 + k / 100, "gpu0_util_pct": 1.0}))
    frames.offer(RESET)
    frames.offer(Batch({"elapsed_s": 9.0, "gpu0_util_pct": 99.0}))
    frames.close()
    wait_sync(lambda: feed.snapshot(0).ended, 5, "the end of the stream")
    assert feed.snapshot(10.0, ["gpu0_util_pct"]).series["gpu0_util_pct"] == (99.0,)


def test_the_end_of_an_abandoned_subscription_taken_with_its_last_frames_does_not_end_the_feed():
    """Recording toggled: the feed reads a new subscription; the old one's END, found in the same look as the
    old one's last frames, is the old stream's end, not the feed's."""
    from collectors.stream import Batch, PolledQueue
    from tests.waiting import wait_sync
    from tui.feed import DashboardFeed

    old, new = PolledQueue(100, 0.5), PolledQueue(100, 0.05)
    feed = DashboardFeed(old, ["gpu0_util_pct"], 10.0)
    old.offer(Batch({"elapsed_s": 0.0, "gpu0_util_pct": 1.0}))
    feed.start()
    wait_sync(lambda: feed.snapshot(0).frame.get("elapsed_s") == 0.0, 5, "the first frame")
    # the thread sleeps half a second before its next look: it will find a frame and END together
    old.offer(Batch({"elapsed_s": 0.1, "gpu0_util_pct": 1.0}))
    feed.attach(new)
    old.close()
    new.offer(Batch({"elapsed_s": 1.0, "gpu0_util_pct": 2.0}))
    wait_sync(lambda: feed.snapshot(0).frame.get("elapsed_s") == 1.0, 5, "the new subscription's frame")
    assert not feed.snapshot(0).ended
    new.close()
    wait_sync(lambda: feed.snapshot(0).ended, 5, "the end of the new subscription")
