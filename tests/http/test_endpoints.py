"""The JSON endpoints, /healthz, POST /events, and what the server refuses (404, 405, 400, 401, 411, 413)."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from collectors.sampler import Batch
from collectors.spans import SpanTracker
from collectors.timeutil import us_from_iso
from recordings.events import read_events
from rigscope.serve.addresses import is_loopback
from rigscope.serve.feed import ExportFeed, ExportSnapshot
from rigscope.serve.http_server import MAX_BODY
from tests.http.conftest import get_json, one, raw_request, request, scrape, serving, wait_for

SUMMARY_KEYS = {"total_requests", "successful", "failed", "success_rate", "avg_duration_s", "avg_rtf",
                "avg_peak_memory_mb", "hardware_tier", "device_type", "session_id", "collapses", "cpu_collapses",
                "gpu_collapses", "collapse_active", "workload_state"}


@pytest.fixture
def live(tmp_path):
    with serving(tmp_path, gpus_sim=2, hz=10.0, duration_s=60.0) as monitor:
        wait_for(lambda: monitor.http.feed.snapshot().samples > 0, what="a first sample")
        yield monitor


def post(port: int, token: str | None, event: object, raw: bytes | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    status, _, body = request(port, "POST", "/events", raw if raw is not None else json.dumps(event).encode(), headers)
    return status, json.loads(body)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- shapes ---------------------------------------------------------------------
def test_summary_has_the_tts_keys_and_the_session(live):
    summary = get_json(live.http.port, "/metrics/summary")
    assert SUMMARY_KEYS <= set(summary)
    assert summary["session_id"] == live.session.name
    assert summary["hardware_tier"] == "nvidia_h100" and summary["device_type"] == "cuda"
    assert summary["total_requests"] == summary["successful"] == summary["failed"] == 0
    assert summary["collapses"] == {"cpu": 0, "gpu0": 0, "gpu1": 0}
    assert summary["workload_state"] in {"idle", "data_prep", "io", "compute"}
    # energy with its method: the simulated GPUs have an energy counter, the simulated CPU a RAPL power
    wait_for(lambda: live.http.feed.snapshot().samples > 3, what="a few samples")
    summary = get_json(live.http.port, "/metrics/summary")
    assert set(summary["energy"]) == {"cpu", "gpu0", "gpu1"}
    assert summary["energy"]["gpu0"]["method"] == "counter" and summary["energy"]["cpu"]["method"] == "rapl"
    assert summary["energy"]["gpu0"]["energy_j"] > 0


def test_export_lists_the_session_files_and_the_analysis(live):
    export = get_json(live.http.port, "/metrics/export")
    assert {"csv_files", "parquet_files", "meta", "analysis"} <= set(export)
    assert export["session_id"] == live.session.name and export["status"] == "recording"
    assert export["meta"].endswith("meta.json") and json.loads(open(export["meta"]).read())["session_id"]
    assert isinstance(export["csv_files"], list) and isinstance(export["parquet_files"], list)
    analysis = export["analysis"]
    assert {"hardware_tier", "device_type", "total_runs", "successful_runs", "success_rate",
            "memory", "performance", "thermal"} <= set(analysis)
    assert {"avg_peak_memory_mb", "max_peak_memory_mb"} <= set(analysis["memory"])
    assert {"avg_duration_s", "avg_rtf", "avg_tokens_per_second"} <= set(analysis["performance"])
    assert set(analysis["thermal"]["devices"]) == {"cpu", "gpu0", "gpu1"}
    assert analysis["thermal"]["max_temperature_c"] > 0


def test_export_after_close_names_the_compacted_files(tmp_path):
    with serving(tmp_path, hz=50.0, duration_s=0.5, formats=frozenset({"parquet", "csv"})) as monitor:
        monitor.wait()
        wait_for(lambda: monitor.recording_state().closed, what="the recorder to close the session")
        export = get_json(monitor.http.port, "/metrics/export")
    assert export["status"] == "complete"
    assert [p.rsplit("/", 1)[1] for p in export["parquet_files"]] == ["samples.parquet"]
    assert [p.rsplit("/", 1)[1] for p in export["csv_files"]] == ["samples.csv"]


def test_healthz_is_200_while_sampling_and_503_when_stalled_or_stopped(tmp_path):
    with serving(tmp_path, hz=20.0, duration_s=1.0) as monitor:
        port = monitor.http.port
        wait_for(lambda: monitor.http.feed.snapshot().samples > 0)
        status, _, body = request(port, "GET", "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        monitor.http.stall_after_s = 0.0  # as if the next tick were overdue
        status, _, body = request(port, "GET", "/healthz")
        assert status == 503 and json.loads(body)["status"] == "stalled"
        monitor.http.stall_after_s = 60.0
        monitor.wait()
        wait_for(lambda: monitor.http.feed.snapshot().ended)
        status, _, body = request(port, "GET", "/healthz")
        assert status == 503 and json.loads(body)["status"] == "stopped"


# -- refusals -------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/metric", "/metrics/", "/metrics/other", "/events/x", "/favicon.ico",
                                  "/meta.json", "/samples.parquet"])
def test_unknown_paths_are_404(live, path):
    status, headers, body = request(live.http.port, "GET", path)
    assert status == 404 and headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(("method", "path"), [("POST", "/metrics"), ("PUT", "/metrics/summary"),
                                              ("DELETE", "/metrics/export"), ("GET", "/events"),
                                              ("PATCH", "/healthz"), ("BREW", "/metrics")])
def test_wrong_methods_are_405_with_allow(live, method, path):
    status, headers, _ = request(live.http.port, method, path, body=b"" if method != "GET" else None)
    assert status == 405 and headers["allow"] in ("GET, HEAD", "POST")


@pytest.mark.parametrize("path", ["/../../../../etc/passwd", "/metrics/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                                  "/metrics/..%2f..%2fmeta.json", "/..\\..\\meta.json", "//etc/passwd",
                                  "/metrics/summary/../export"])
def test_path_traversal_gets_404_and_no_file(live, path):
    reply = raw_request(live.http.port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    assert reply.startswith(b"HTTP/1.1 404")
    assert b"root:" not in reply and b"session_id" not in reply


def test_bad_json_is_400(live):
    assert post(live.http.port, live.http.token, None, raw=b"{not json")[0] == 400
    assert post(live.http.port, live.http.token, None, raw=b"\xff\xfe")[0] == 400
    status, body = post(live.http.port, live.http.token, {"kind": "bogus"})
    assert status == 400 and "not an event" in body["error"]
    assert post(live.http.port, live.http.token, [1, 2, 3])[0] == 400


def test_oversized_post_is_413_and_not_read(live):
    status, body = post(live.http.port, live.http.token, None, raw=b"x" * (MAX_BODY + 1))
    assert status == 413
    head = b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n" % live.http.token.encode()
    reply = raw_request(live.http.port, head + b"Content-Length: 999999999\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 413")


def test_a_body_without_length_is_411(live):
    head = b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n" % live.http.token.encode()
    reply = raw_request(live.http.port, head + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 411")


# -- events -------------------------------------------------------------------------
def test_posted_events_reach_the_session_and_the_span_metrics(live):
    port = live.http.port
    start = datetime.now(UTC)
    assert post(port, live.http.token, {"kind": "note", "text": "from http", "source": "probe"})[0] == 202
    for i, (seconds, success) in enumerate([(0.2, True), (1.5, True), (3.0, False)]):
        attrs = {"audio_s": 2 * seconds, "tokens": 100}
        assert post(port, live.http.token, {"kind": "span_start", "span_id": f"s{i}", "name": "tts", "attrs": attrs,
                           "ts": iso(start)})[0] == 202
        end = {"kind": "span_end", "span_id": f"s{i}", "name": "tts", "success": success,
               "error": None if success else "boom", "ts": iso(start + timedelta(seconds=seconds))}
        assert post(port, live.http.token, end)[0] == 202
    wait_for(lambda: live.http.feed.snapshot().span_totals.count == 3, what="the spans to reach the exporter")
    families = scrape(port)
    assert one(families, "rigscope_spans", "rigscope_spans_total", name="tts", success="true") == 2
    assert one(families, "rigscope_spans", "rigscope_spans_total", name="tts", success="false") == 1
    assert one(families, "rigscope_span_duration_seconds", "rigscope_span_duration_seconds_count", name="tts") == 3
    assert one(families, "rigscope_span_duration_seconds", "rigscope_span_duration_seconds_sum",
               name="tts") == pytest.approx(4.7)
    assert one(families, "rigscope_span_duration_seconds", "rigscope_span_duration_seconds_bucket",
               name="tts", le="1.0") == 1
    # a span tracker (Monitor.spans), when there is one, closes a span once a sample passes its end
    summary = wait_for(lambda: (body := get_json(port, "/metrics/summary"))["total_requests"] == 3 and body,
                       what="the summary to count the spans")
    assert (summary["total_requests"], summary["successful"], summary["failed"]) == (3, 2, 1)
    assert summary["success_rate"] == pytest.approx(2 / 3)
    assert summary["avg_duration_s"] == pytest.approx(4.7 / 3)
    assert summary["avg_rtf"] == pytest.approx(0.5)
    assert summary["avg_peak_memory_mb"] > 0
    live.request_stop()
    live.stop()
    kinds = [event["kind"] for event in read_events(live.session / "events.jsonl")]
    assert kinds.count("note") == 1 and kinds.count("span_end") == 3


def test_posts_share_the_receivers_rate_limit(live):
    live.receiver.limiter.take = lambda: False  # as during a flood
    status, body = post(live.http.port, live.http.token, {"kind": "note", "text": "one too many"})
    assert status == 429 and "rate limit" in body["error"]
    assert live.event_stats()["rate_limited"] >= 1


def test_token_is_required_when_set(tmp_path):
    with serving(tmp_path, http_token="s3cret") as monitor:
        port = monitor.http.port
        assert post(port, None, {"kind": "note", "text": "x"})[0] == 401
        assert post(port, "wrong", {"kind": "note", "text": "x"})[0] == 401
        status, _, _ = request(port, "POST", "/events", b'{"kind": "note", "text": "x"}',
                               {"Authorization": "Basic czNjcmV0"})
        assert status == 401
        assert post(port, "s3cret", {"kind": "note", "text": "x"})[0] == 202
        assert request(port, "GET", "/metrics/summary")[0] == 200  # reads stay open
        # the token given replaces the session's, whoever the client is
        assert monitor.http.refuse_post("Bearer s3cret") is None
        assert monitor.http.refuse_post("Bearer nope") is not None


def test_a_post_without_the_token_is_refused_from_loopback_too(live):
    refuse = live.http.refuse_post
    assert refuse(f"Bearer {live.session_token}") is None
    for authorization in (None, "", "Bearer", "Bearer nope", f"Basic {live.session_token}"):
        assert "token" in refuse(authorization)
    assert live.event_stats()["refused_token"] == 5
    assert not is_loopback("localhost")  # client addresses are literals; a name is never trusted


def assembled(batches: list[Batch]) -> tuple[ExportSnapshot, SpanTracker]:
    """The feed's snapshot once a span assembler and the feed took `batches` (as a monitor's threads do), then closed."""
    tracker = SpanTracker([0])
    feed = ExportFeed(None, ["gpu0"], ["cpu", "gpu0"], tracker.stats)
    for batch in batches:
        if batch.frame is not None:
            tracker.add_frame(dict(batch.frame))
        for event in batch.events:
            tracker.add_event(event)
    tracker.close()
    return feed.take_all(batches), tracker


def test_feed_serves_the_span_assemblers_figures():
    """/metrics and the JSON bodies count spans by the session format's rules (the assembler's), not their own:
    peak memory from the samples inside the span, rtf from its duration and `audio_s` (an `rtf` field is not taken)."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    at = lambda seconds: us_from_iso(iso(t0 + timedelta(seconds=seconds)))  # noqa: E731
    frame = {"elapsed_s": 0.0, "mem_used_bytes": 2 << 20}
    snap, tracker = assembled([
        Batch(None, ({"kind": "span_start", "span_id": "1", "name": "a", "ts": iso(t0),
                      "attrs": {"tokens": 50, "audio_s": 1.0}},)),
        Batch({**frame, "ts": at(0)}, ()),
        Batch({**frame, "ts": at(0.1), "elapsed_s": 0.1, "mem_used_bytes": 8 << 20}, ()),
        Batch({**frame, "ts": at(0.3), "elapsed_s": 0.3, "mem_used_bytes": 4 << 20}, ()),
        Batch(None, ({"kind": "span_end", "span_id": "1", "ts": iso(t0 + timedelta(seconds=0.5)), "success": True,
                      "rtf": 9.0},)),
        Batch({**frame, "ts": at(0.6), "elapsed_s": 0.6, "mem_used_bytes": 32 << 20}, ()),
        Batch(None, ({"kind": "span_end", "span_id": "start-lost", "name": "c", "ts": iso(t0 + timedelta(seconds=2)),
                      "start_ts": iso(t0), "success": False},)),
        Batch({**frame, "ts": at(2.5), "elapsed_s": 2.5}, ()),
        Batch(None, ({"kind": "span_start", "span_id": "2", "name": "a", "ts": iso(t0 + timedelta(seconds=2.5))},)),
    ])
    (a, c) = snap.spans
    assert (a.name, a.count, a.timed, a.duration_sum, a.peak_memory_max_mb) == ("a", 1, 1, 0.5, 8.0)
    assert (a.rtf_sum, a.tokens_per_second_sum) == (0.5, 100.0)
    assert (c.name, c.count, c.failed, c.duration_sum) == ("c", 1, 1, 2.0)
    assert snap.span_totals.count == 2 and snap.open_spans == 1
    # the same figures as meta.json's summary.spans
    summary = tracker.summary()
    assert snap.span_totals.figures() == {key: summary[key] for key in snap.span_totals.figures()}


def test_scrapes_do_not_slow_sampling(live):
    """Two threads scraping flat out for a second: the sampler keeps its schedule."""
    import threading

    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            scrape(live.http.port)

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    before = live.stats.samples
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    stop.set()
    for thread in threads:
        thread.join()
    assert live.stats.samples - before >= 8  # 10 Hz
    assert live.sampler.ticker.missed == 0


def test_content_negotiation_prefers_the_classic_text_format(live):
    prometheus_accept = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
                         "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
    status, headers, _ = request(live.http.port, "GET", "/metrics", headers={"Accept": prometheus_accept})
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    status, headers, body = request(live.http.port, "GET", "/metrics",
                                    headers={"Accept": "application/openmetrics-text;version=1.0.0"})
    assert status == 200 and headers["content-type"].startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")


def test_openmetrics_is_served_as_the_version_it_is(live):
    """prometheus_client labels its OpenMetrics 1.0.0 text with whatever later version the scraper names."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

    for accept in ("application/openmetrics-text;version=2.0.0", "application/openmetrics-text;version=1.0.0",
                   "application/openmetrics-text"):
        status, headers, body = request(live.http.port, "GET", "/metrics", headers={"Accept": accept})
        assert status == 200 and headers["content-type"].startswith("application/openmetrics-text; version=1.0.0;")
        assert re.fullmatch(r"rigscope/[\w.+-]+", headers["server"])
        assert body.endswith(b"# EOF\n") and list(parse_openmetrics(body.decode()))


def test_fast_scrapers_share_renderings_made_after_a_sample(tmp_path):
    """100 scrapes/s on a 50 Hz monitor: about 10 renders a second, each reporting the sample it shows."""
    from rigscope.serve.http_server import RENDER_EVERY_S

    with serving(tmp_path, hz=50.0, duration_s=30.0) as monitor:
        port = monitor.http.port
        wait_for(lambda: monitor.http.feed.snapshot().samples > 0)
        scrape(port)
        before, started = monitor.http.renders, time.monotonic()
        stamps = []
        for _ in range(100):  # a count, not a duration: a slow machine scrapes less often, never fewer times
            stamps.append(one(scrape(port), "rigscope_last_sample_timestamp_seconds"))
            time.sleep(0.01)
        renders, elapsed = monitor.http.renders - before, time.monotonic() - started
        assert renders <= elapsed / RENDER_EVERY_S + 3  # at most one rendering per RENDER_EVERY_S, however fast
        assert stamps == sorted(stamps) and len(set(stamps)) >= 3
        time.sleep(3 * RENDER_EVERY_S)  # the fast scraper went away: the next scrape shows the latest sample
        families = scrape(port)
        latest = monitor.http.feed.snapshot().frame["ts"] / 1e6
        assert one(families, "rigscope_last_sample_timestamp_seconds") >= latest - 2 / 50


ANALYSIS_KEYS = {
    "": {"hardware_tier", "device_type", "total_runs", "successful_runs", "failed_runs", "success_rate", "samples",
         "sample_hz", "memory", "performance", "thermal"},
    "memory": {"avg_peak_memory_mb", "max_peak_memory_mb", "host_memory_used_mb", "host_memory_total_mb",
               "gpu_memory_used_mb", "gpu_memory_total_mb"},
    "performance": {"avg_duration_s", "min_duration_s", "max_duration_s", "avg_rtf", "avg_tokens_per_second"},
    "thermal": {"max_temperature_c", "throttle_detected", "devices"},
}


def test_analysis_shape_and_values_from_two_runs():
    """Every block's keys exactly, each value from the frames and spans that made it (documented in prometheus.md)."""
    from rigscope.serve.prometheus import ExportLabels, GpuLabel
    from rigscope.serve.reports import analysis

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    ts = us_from_iso(iso(t0))
    frame = {"ts": ts, "elapsed_s": 0.0, "mem_used_bytes": 3 << 20, "mem_total_bytes": 16 << 20, "cpu_temp_c": 50.0,
             "gpu0_mem_used_bytes": 5 << 20, "gpu0_mem_total_bytes": 80 << 20, "gpu0_temp_c": 70.0,
             "gpu0_power_w": 300.0, "gpu0_throttle_reasons": 0x20}  # thermal slowdown
    snap, _ = assembled([
        Batch(None, ({"kind": "span_start", "span_id": 1, "name": "tts", "ts": iso(t0),
                      "attrs": {"audio_s": 2.0, "tokens": 40}},)),
        Batch(frame, ()),
        Batch({**frame, "ts": ts + 1_000_000, "elapsed_s": 1.0, "mem_used_bytes": 4 << 20, "gpu0_temp_c": 80.0}, ()),
        Batch(None, ({"kind": "span_end", "span_id": 1, "ts": iso(t0 + timedelta(seconds=1)), "success": True},
                     {"kind": "span_end", "span_id": 2, "name": "tts", "ts": iso(t0 + timedelta(seconds=3)),
                      "start_ts": iso(t0), "success": False})),
    ])
    labels = ExportLabels("box", "s1", gpus=(GpuLabel(0, "GPU-x"),), devices=("cpu", "gpu0"),
                          info={"hardware_tier": "nvidia_h100", "device_type": "cuda"}, sample_hz=1.0)
    body = json.loads(json.dumps(analysis(snap, labels), allow_nan=False))
    assert set(body) == ANALYSIS_KEYS[""]
    for block in ("memory", "performance", "thermal"):
        assert set(body[block]) == ANALYSIS_KEYS[block], block
    assert (body["hardware_tier"], body["device_type"]) == ("nvidia_h100", "cuda")
    assert (body["total_runs"], body["successful_runs"], body["failed_runs"], body["success_rate"]) == (2, 1, 1, 0.5)
    assert (body["samples"], body["sample_hz"]) == (2, 1.0)
    memory = body["memory"]
    assert memory["max_peak_memory_mb"] == memory["avg_peak_memory_mb"] == 4.0  # both runs span both samples
    assert (memory["host_memory_used_mb"], memory["host_memory_total_mb"]) == (4.0, 16.0)
    assert memory["gpu_memory_used_mb"] == {"gpu0": 5.0} and memory["gpu_memory_total_mb"] == {"gpu0": 80.0}
    performance = body["performance"]
    assert (performance["min_duration_s"], performance["max_duration_s"], performance["avg_duration_s"]) == (1, 3, 2)
    assert performance["avg_rtf"] == 0.5 and performance["avg_tokens_per_second"] == 40.0
    thermal = body["thermal"]
    assert thermal["max_temperature_c"] == 80.0 and thermal["throttle_detected"] is True
    assert set(thermal["devices"]) == {"cpu", "gpu0"}
    assert thermal["devices"]["gpu0"] == {"temperature_c": 80.0, "max_temperature_c": 80.0, "temperature_limit_c": None,
                                          "max_power_w": 300.0, "throttle_seconds": {"power_cap": 0.0, "thermal": 1.0,
                                                                                     "power_brake": 0.0, "other": 0.0}}
    assert "throttle_seconds" not in thermal["devices"]["cpu"]


def test_analysis_keys_are_documented():
    from tests.conftest import REPO

    guide = (REPO / "docs" / "prometheus.md").read_text(encoding="utf-8")
    for keys in ANALYSIS_KEYS.values():
        for key in keys:
            assert f"`{key}`" in guide, key
