"""The probe API as a workload uses it: spans, tags, metrics, notes; failures, drops, forks, import cost."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import rigscope
from collectors.event_parse import parse_event
from collectors.timeutil import us_from_iso
from rigscope import probe
from tests.conftest import REPO


def by_kind(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["kind"] == kind]


def test_span_as_context_manager_decorator_and_by_hand(listener):
    with rigscope.span("synthesis", request_id="r1", tokens=150, audio_s=3.2, quantization_used="INT8") as s:
        s.set(chunks=2)

    @rigscope.span("load", stage=1)
    def load(x):
        return x * 2

    assert load(21) == 42 and load.__name__ == "load"
    manual = rigscope.start_span("manual", n=1)
    manual.end(success=False, error="timeout")
    manual.end()  # only the first end counts
    events = listener.collect(6)
    starts, ends = by_kind(events, "span_start"), by_kind(events, "span_end")
    assert [e["name"] for e in starts] == ["synthesis", "load", "manual"]
    assert len({e["span_id"] for e in starts}) == 3
    assert all(e["span_id"].startswith(f"{os.getpid()}-") for e in starts)
    synthesis = ends[0]
    assert synthesis["attrs"] == {"request_id": "r1", "tokens": 150, "audio_s": 3.2, "quantization_used": "INT8",
                                  "chunks": 2}
    assert synthesis["success"] is True and synthesis["error"] is None and synthesis["duration_s"] >= 0
    assert synthesis["start_ts"] == starts[0]["ts"]
    assert ends[1]["attrs"] == {"stage": 1}
    assert ends[-1]["success"] is False and ends[-1]["error"] == "timeout" and len(ends) == 3
    for event in events:  # every event is one the monitor takes, stamped with this process's wall clock
        assert parse_event(__import__("json").dumps(event)) is not None
        assert event["ts"].endswith("Z") and len(event["ts"]) == 27
        assert abs(us_from_iso(event["ts"]) / 1e6 - __import__("time").time()) < 60


def test_an_exception_inside_a_span_is_recorded_and_reraised_unchanged(listener):
    error = ValueError("bad input text")
    with pytest.raises(ValueError) as raised:
        with rigscope.span("synthesis", request_id="r2"):
            raise error
    assert raised.value is error
    assert raised.value.__traceback__ is not None
    (end,) = by_kind(listener.collect(2), "span_end")
    assert end["success"] is False and end["error"] == "ValueError: bad input text"


def test_nested_and_overlapping_spans(listener):
    with rigscope.span("request") as outer:
        with rigscope.span("encode") as inner:
            overlapping = rigscope.start_span("io")  # started inside, ends after its parent
        with rigscope.span("decode") as second:
            pass
    overlapping.end()
    events = listener.collect(8)
    starts = {e["name"]: e for e in by_kind(events, "span_start")}
    assert starts["request"]["parent_id"] is None
    assert starts["encode"]["parent_id"] == outer.span_id
    assert starts["io"]["parent_id"] == inner.span_id
    assert starts["decode"]["parent_id"] == outer.span_id and second.parent_id == outer.span_id
    ends = [e["name"] for e in by_kind(events, "span_end")]
    assert ends == ["encode", "decode", "request", "io"]


def test_async_functions_can_be_decorated(listener):
    import asyncio

    @rigscope.span("infer")
    async def infer(x):
        await asyncio.sleep(0)
        return x + 1

    assert asyncio.run(infer(1)) == 2
    assert [e["kind"] for e in listener.collect(2)] == ["span_start", "span_end"]


def test_tag_metric_note(listener):
    import math

    rigscope.tag("data_prep")
    rigscope.metric("grad_norm", 1.7, step=1200)
    rigscope.metric("loss", float("nan"))
    rigscope.note("lr dropped to 1e-4", tags=["lr"])
    rigscope.tag("auto")
    tag, grad, loss, note, auto = listener.collect(5)
    assert tag == {"kind": "tag", "ts": tag["ts"], "state": "data_prep", "source": "probe"}
    assert grad["name"] == "grad_norm" and grad["value"] == 1.7 and grad["step"] == 1200
    assert math.isnan(loss["value"]) and "step" not in loss
    assert note["text"] == "lr dropped to 1e-4" and note["source"] == "probe" and note["tags"] == ["lr"]
    assert auto["state"] == "auto"


def test_values_json_cannot_encode_do_not_raise(listener):
    class Odd:
        def __str__(self) -> str:
            return "odd"

    with rigscope.span("x", thing=Odd(), numbers={1, 2}) as s:
        pass
    rigscope.metric("not a number", "abc")  # dropped and counted, not raised
    start, end = listener.collect(2)
    assert start["attrs"] == {"thing": "odd", "numbers": [1, 2]} and end["span_id"] == s.span_id
    assert probe.dropped() == 1


def test_no_monitor_running_drops_and_counts(runtime):
    for step in range(50):
        rigscope.metric("loss", 1.0, step=step)
    with rigscope.span("request"):
        pass
    probe.flush()
    assert probe.dropped() == 52 and probe.stats()["sent"] == 0


def test_an_oversized_event_is_dropped_by_the_probe(listener):
    rigscope.start_span("big", **{f"text{i}": "é" * 300 for i in range(100)})  # 100 texts of 1.5 kB in escapes
    rigscope.note("small")
    (note,) = listener.collect(1)
    assert note["text"] == "small" and probe.dropped() == 1


@pytest.mark.parametrize("setting", [{"RIGSCOPE_PROBE": "off"}, {"RIGSCOPE_PROBE_UDP": "http"}])
def test_probe_off(listener, monkeypatch, setting):
    for name, value in setting.items():
        monkeypatch.setenv(name, value)
    probe.reset()
    rigscope.note("nowhere")
    probe.flush()
    assert probe.dropped() == 1 and probe.stats()["recorder"] is None and listener.collect(1, 0.2) == []


def test_udp_setting():
    assert probe.udp_target({}) is None
    assert probe.udp_target({"RIGSCOPE_PROBE_UDP": " 5000 ", "RIGSCOPE_TOKEN": "t"}) == (5000, "t")
    with pytest.raises(ValueError, match="RIGSCOPE_PROBE_UDP"):
        probe.udp_target({"RIGSCOPE_PROBE_UDP": "70000"})


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_sends_with_its_own_socket(listener):
    rigscope.note("parent before fork")
    probe.flush()
    pid = os.fork()
    if pid == 0:  # the child: like a DataLoader worker
        try:
            with rigscope.span("worker"):
                rigscope.metric("batch", 1.0)
            probe.flush()  # a bare os._exit runs no exit hook (multiprocessing's children do: see below)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    events = listener.collect(4)
    child = [e for e in events if e["kind"] != "note"]
    assert [e["kind"] for e in child] == ["span_start", "metric", "span_end"]
    assert child[0]["span_id"].startswith(f"{pid}-")
    assert [e["text"] for e in events if e["kind"] == "note"] == ["parent before fork"]


def test_events_queued_at_exit_are_sent(listener):
    code = "import rigscope\nfor i in range(100): rigscope.metric('m', i, step=i)\n"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    events = listener.collect(100)
    assert [e["step"] for e in events] == list(range(100))


def test_multiprocessing_workers_send_what_they_queued(listener):
    code = (
        "import multiprocessing as mp, rigscope\n"
        "def work(i):\n"
        "    with rigscope.span('item', i=i):\n"
        "        return i\n"
        "if __name__ == '__main__':\n"
        "    pool = mp.get_context('fork').Pool(2)\n"
        "    print(sum(pool.map(work, range(20))))\n"
        "    pool.close()\n"  # workers end normally and send what they queued (terminate() would kill them)
        "    pool.join()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    ends = by_kind(listener.collect(40), "span_end")
    assert sorted(e["attrs"]["i"] for e in ends) == list(range(20))


def test_import_rigscope_loads_nothing_heavy_even_with_the_probe_in_use():
    code = ("import sys\nimport rigscope\nbefore = set(sys.modules)\n"
            "with rigscope.span('x'):\n    rigscope.metric('m', 1.0)\n"
            "print(' '.join(sorted(set(sys.modules) - before)))\n"
            "print(' '.join(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True,
                         env={**os.environ, "RIGSCOPE_PROBE": "off"}).stdout.splitlines()
    loaded = set(out[1].split())
    for heavy in ("textual", "polars", "pynvml", "psutil", "numpy", "recordings", "tui", "rich"):
        assert heavy not in loaded
    # Of collectors, only the protocol the probe shares with the receiver (standard library only).
    assert {name for name in loaded if name.split(".")[0] == "collectors"} == {
        "collectors", "collectors.wire", "collectors.event_kinds"}
    assert "rigscope.probe" in out[0].split()  # loaded on first use, not by `import rigscope`


def test_the_fast_encoder_writes_what_the_public_json_encoder_writes():
    import json

    from rigscope.probe_encoding import compact_encoder, plain

    class Scalar:  # numpy and torch scalars answer .item()
        def item(self):
            return 2.5

    public = json.JSONEncoder(separators=(",", ":"), default=plain, check_circular=False).encode
    fast = compact_encoder()
    for value in ({}, {"a": 1, "b": [1.5, None, True], "c": {"d": "é\n\x00"}}, {"s": {3}, "t": (1, 2)},
                  {"x": Scalar(), "y": ValueError("no")}, ["\ud800"], {1: 2}):
        assert fast(value) == public(value)


def test_every_probe_event_is_one_the_receiver_takes():
    from rigscope import probe_encoding as encoding

    head, start = encoding.span_start(encoding.now(), "1-1", "n\"ame", None, encoding.encode({"k": 1}))
    texts = [start,
             encoding.span_end(encoding.now(), head, encoding.now(), 0.5, False, "boom", "{}"),
             encoding.tag(encoding.now(), "train"), encoding.metric(encoding.now(), "loss", float("nan"), 3),
             encoding.note(encoding.now(), "hi", ["a"])]
    kinds = [parse_event(text)["kind"] for text in texts]
    assert kinds == ["span_start", "span_end", "tag", "metric", "note"]


def test_the_probe_clock_writes_iso_utc_with_six_digits_of_microseconds(monkeypatch):
    from rigscope import probe_encoding as encoding

    for ns, text in ((1_800_000_000_000_001_000, "2027-01-15T08:00:00.000001Z"),
                     (1_800_000_001_999_999_999, "2027-01-15T08:00:01.999999Z"),
                     (1_800_000_002_000_000_000, "2027-01-15T08:00:02.000000Z")):
        monkeypatch.setattr(encoding, "time_ns", lambda ns=ns: ns)
        assert encoding.now() == text
