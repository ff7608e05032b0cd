"""Whatever arrives at a recorder's socket, the receiver refuses it, counts it and goes on; it never grows without bound."""

from __future__ import annotations

import json
import socket

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.event_kinds import SENT as KINDS
from collectors.event_parse import CUT_MARK, NOTE_CAP, parse_event
from recordings.events import read_events
from rigscope.monitor import Monitor
from rigscope.record_command import status_line
from tests.waiting import wait_sync

HOSTILE = [
    b'{"kind":"note","text":"x","ts":NaN}',
    b'{"kind":"note","text":"x","ts":1e300}',
    b'{"kind":"note","text":"x","ts":Infinity}',
    b'{"kind":"note","text":"x","ts":-Infinity}',
    b'{"kind":"metric","name":"m","value":1,"ts":1e400}',
    b"[" * 30_000,
    b'{"kind":"note","text":' + b"[" * 30_000 + b"]" * 30_000 + b"}",
    b'{"kind":"note","text":"\xff\xfe bad utf-8"}',
    b'{"kind":"note","text":"\\ud800 lone surrogate"}',
    b'{"kind":["note"],"text":"x"}',
    b'{"kind":{"a":1},"text":"x"}',
    b'{"kind":"note","text":5}',
    b'{"kind":"note","text":"x","tags":[1,2]}',
    b'{"kind":"note","text":"x","tags":"lr"}',
    b'{"kind":"tag","state":"' + b"s" * 300 + b'"}',
    b'{"kind":"span_start","span_id":"a","name":"n","attrs":[1]}',
    b'{"kind":"span_start","span_id":"a","name":"n","attrs":{"x":NaN}}',
    b'{"kind":"span_start","span_id":"a","name":"n","attrs":{"x":1e999}}',
    b'{"kind":"span_start","span_id":"a","name":"n","attrs":{"x":123456789012345678901234567890}}',
    b'{"kind":"span_end","span_id":"a","name":"n","success":"no"}',
    b'{"kind":"span_end","span_id":"a","name":"n","duration_s":-1}',
    b'{"kind":"span_end","span_id":"a","name":"n","duration_s":NaN}',
    b'{"kind":"span_end","span_id":"a","name":"n","start_ts":"yesterday"}',
    b'{"kind":"span_end","span_id":"a","name":"n","error":{"m":1}}',
    b'{"kind":"metric","name":"m","value":"high"}',
    b'{"kind":"metric","name":"m","value":1,"step":1.5}',
    b'{"kind":"metric","name":"m","value":1,"step":true}',
    b'{"kind":"metric","name":"m","value":' + b"9" * 5000 + b"}",
    b'{"kind":"note","text":"x","ts":"0001-01-01T00:00:00Z+"}',
    b"\x00" * 100,
]



class Sender:
    """Sends datagrams to a recorder's socket, and checks that a valid note still lands after each."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.connect(monitor.event_stats()["socket"])
        self.valid = 0

    def send(self, payload: bytes) -> None:
        self.sock.send(payload)

    def still_up(self) -> None:
        receiver = self.monitor.receiver
        before = receiver.received
        self.valid += 1
        self.sock.send(json.dumps({"kind": "metric", "name": "alive", "value": self.valid}).encode())
        wait_sync(lambda: receiver.received > before, 10, "the next valid event to land")

    def close(self) -> None:
        self.sock.close()


def test_each_hostile_datagram_is_refused_and_the_next_valid_event_lands(monitor):
    sender = Sender(monitor)
    try:
        for payload in HOSTILE:
            sender.send(payload)
            sender.still_up()
    finally:
        sender.close()
    receiver = monitor.receiver
    assert receiver.rejected == len(HOSTILE) and receiver.received == len(HOSTILE)
    assert receiver.restarts == 0 and receiver._thread.is_alive()
    monitor.stop()
    events = read_events(monitor.session / "events.jsonl")
    assert [e["value"] for e in events if e.get("name") == "alive"] == list(range(1, len(HOSTILE) + 1))


def test_a_metric_value_may_be_nan_or_infinite_but_nothing_else_may():
    assert parse_event(b'{"kind":"metric","name":"loss","value":NaN}')["value"] != 0  # NaN kept
    assert parse_event(b'{"kind":"metric","name":"loss","value":-Infinity}')["value"] == float("-inf")
    assert parse_event(b'{"kind":"metric","name":"loss","value":1e300}')["value"] == 1e300
    assert parse_event(b'{"kind":"metric","name":"loss","value":1,"extra":NaN}') is None


JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                      st.text(max_size=20))
JSON = st.recursive(JSON_LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                            max_size=4), max_leaves=12)
FIELDS = st.sampled_from(["text", "state", "span_id", "name", "parent_id", "attrs", "success", "error", "start_ts",
                          "duration_s", "value", "step", "ts", "tags", "source", "ack"])
EVENT = st.builds(lambda kind, fields: {"kind": kind, **fields}, st.sampled_from(sorted(KINDS)) | JSON,
                  st.dictionaries(FIELDS, JSON, max_size=6))
LINE = st.one_of(EVENT.map(lambda e: json.dumps(e, allow_nan=True).encode()), st.binary(max_size=200))
DATAGRAM = st.lists(LINE, min_size=1, max_size=4).map(b"\n".join)


def test_a_stream_of_random_datagrams_never_stops_the_receiver(monitor):
    sender = Sender(monitor)

    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(DATAGRAM)
    def one(payload: bytes) -> None:
        sender.send(payload)
        sender.still_up()

    try:
        one()
    finally:
        sender.close()
    assert monitor.event_stats()["restarts"] == 0 and monitor.receiver._thread.is_alive()
    monitor.stop()  # and what was taken is written and read back
    events = read_events(monitor.session / "events.jsonl")
    assert [e["value"] for e in events if e.get("name") == "alive" and e["kind"] == "metric"][-1] == sender.valid


def test_a_failing_receiver_loop_is_loud_and_restarted(monitor):
    receiver = monitor.receiver
    real = receiver.take_datagram
    calls = []

    def fails_once(payload: bytes) -> bool:
        calls.append(payload)
        if len(calls) == 1:
            raise MemoryError("injected")
        return real(payload)

    receiver.take_datagram = fails_once
    sender = Sender(monitor)
    try:
        sender.send(b'{"kind":"note","text":"lost with the failure"}')
        wait_sync(lambda: receiver.restarts == 1, 10, "the restart")
        sender.still_up()
    finally:
        sender.close()
    assert "MemoryError: injected" in receiver.stats()["last_failure"]
    assert any("event receiver failed (MemoryError: injected); restarted" in n for n in monitor.notices)
    assert "EVENT RECEIVER RESTARTED 1x" in status_line(monitor)
    monitor.stop()
    meta = json.loads((monitor.session / "meta.json").read_text())
    assert any("event receiver failed" in w for w in meta["warnings"])
    assert meta["summary"]["event_receiver"]["restarts"] == 1


def test_big_notes_are_cut_and_floods_of_notes_and_tags_are_limited(monitor):
    receiver = monitor.receiver
    sender = Sender(monitor)
    try:
        sender.send(json.dumps({"kind": "note", "text": "n" * 60_000}).encode())
        sender.still_up()
        line = b'{"kind":"tag","state":"s"}'
        for _ in range(20):
            sender.send(b"\n".join([line] * 100))  # 2,000 tags at once: past the burst of 500
        wait_sync(lambda: receiver.received + receiver.rate_limited >= 2 + 2000, 10, "the tags")
    finally:
        sender.close()
    assert 500 <= receiver.received - 2 <= 600 and receiver.rate_limited >= 1400
    monitor.stop()
    (note,) = [e for e in read_events(monitor.session / "events.jsonl") if e["kind"] == "note"]
    assert len(note["text"]) == NOTE_CAP and note["text"].endswith(CUT_MARK)
