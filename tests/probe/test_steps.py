"""A metric's step computed as a float that holds a whole number (`global_step / accumulation`, 1200.0)
is that step; one that is no whole number is still refused and counted."""

from __future__ import annotations

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
