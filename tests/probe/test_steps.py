"""What a probe call is given as a real workload gives it: a metric's step computed as a float that holds
a whole number (`global_step / accumulation`, 1200.0) is that step, one that is no whole number is still
refused and counted; a note's one tag as text; and the clock taken from several threads at once."""

from __future__ import annotations

import time

import numpy

import rigscope
from rigscope import probe


def test_a_whole_float_step_is_that_step_and_others_are_refused(listener):
    rigscope.metric("loss", 0.5, step=2400 / 2)
    rigscope.metric("loss", 0.4, step=numpy.float32(7.0))
    rigscope.metric("loss", 0.4, step=-3.0)
    for bad in (1.7, float("nan"), float("inf"), "3", 1e30):
        rigscope.metric("loss", 0.3, step=bad)
    steps = [e["step"] for e in listener.collect(3)]
    assert steps == [1200, 7, -3] and all(type(s) is int for s in steps)
    assert probe.dropped() == 5


def test_a_note_given_one_tag_as_text_has_that_tag_not_its_letters(listener):
    rigscope.note("checkpoint saved", tags="ckpt")
    rigscope.note("eval done", tags=("eval", 3))
    assert [e["tags"] for e in listener.collect(2)] == [["ckpt"], ["eval", "3"]]


def test_a_timestamp_taken_while_another_call_makes_the_new_seconds_text_is_whole(monkeypatch):
    """Another thread (or a signal handler) may take the clock between the two halves of the cache's
    update at a new second: it gets a whole timestamp of its own second, not the old second's text."""
    from collectors.timeutil import us_from_iso
    from rigscope import probe_encoding as encoding

    inner: list[str] = []
    making = encoding.time.strftime
    calls: list[bool] = []

    def strftime(pattern: str, moment: time.struct_time) -> str:
        calls.append(True)
        if len(calls) == 1:
            inner.append(encoding.now())  # taken in the middle of the outer call's update
        return making(pattern, moment)

    monkeypatch.setattr(encoding.time, "strftime", strftime)
    monkeypatch.setattr(encoding, "time_ns", lambda: 1_800_000_002_000_000_000)  # a new second: 08:00:02
    encoding.now()
    assert inner == ["2027-01-15T08:00:02.000000Z"] and us_from_iso(inner[0]) == 1_800_000_002_000_000
