"""The probe under a second review: a shared span object in threads and tasks, values the receiver
refuses, names whose text cannot be had, and values that said something other than the docs.

Most tests read the JSON texts the probe queues (`sent`) and parse each with the receiver's own
parser: a text it refuses is a span, metric or note the workload believes it sent."""

from __future__ import annotations

import asyncio
import math
import threading
from typing import Any

import pytest

import rigscope
from collectors.event_parse import parse_event
from collectors.wire import MAX_DEPTH, MAX_INT, MAX_NAME
from rigscope import probe


@pytest.fixture
def sent(runtime, monkeypatch) -> list[str]:
    """The texts the probe queues, in order (nothing leaves the process)."""
    texts: list[str] = []
    monkeypatch.setattr(probe, "_send", texts.append)
    return texts


def taken(texts: list[str]) -> list[dict[str, Any]]:
    """Each text as the receiver takes it; fails when it refuses one."""
    events = [parse_event(text) for text in texts]
    refused = [text[:200] for text, event in zip(texts, events, strict=True) if event is None]
    assert not refused, f"the receiver refuses {refused}"
    return events  # type: ignore[return-value]


def ends(texts: list[str]) -> list[dict[str, Any]]:
    return [e for e in taken(texts) if e["kind"] == "span_end"]


# -- 1. one span object, several threads or tasks at once --------------------------------------
def test_one_span_object_entered_by_two_threads_at_once_ends_each_threads_own_span(sent):
    shared = rigscope.span("shared_req")
    a_inside, b_inside, a_left = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    def thread_a() -> None:
        with shared as a:
            seen["a"] = a
            a_inside.set()
            assert b_inside.wait(5)
        seen["a ended on leaving"] = a.ended
        seen["b ended when a left"] = seen["b"].ended
        seen["after"] = rigscope.start_span("after_a")  # A's context has no open span any more
        a_left.set()

    def thread_b() -> None:
        with shared as b:
            seen["b"] = b
            b_inside.set()
            assert a_left.wait(5)
            with rigscope.span("child") as child:
                seen["child"] = child
        seen["b ended on leaving"] = b.ended

    first = threading.Thread(target=thread_a)
    first.start()
    assert a_inside.wait(5)  # A is inside before B enters
    second = threading.Thread(target=thread_b)
    second.start()
    first.join(5)
    second.join(5)
    a, b, child = seen["a"], seen["b"], seen["child"]
    assert seen["a ended on leaving"] and not seen["b ended when a left"] and seen["b ended on leaving"]
    assert child.parent_id == b.span_id and seen["after"].parent_id is None
    assert [e["span_id"] for e in ends(sent)] == [a.span_id, child.span_id, b.span_id]


def test_one_span_object_in_two_asyncio_tasks_at_once_ends_each_tasks_own_span(sent):
    shared = rigscope.span("shared_req")
    seen: dict[str, Any] = {}

    async def main() -> None:
        b_inside, a_left = asyncio.Event(), asyncio.Event()

        async def task_a() -> None:
            with shared as a:
                seen["a"] = a
                await b_inside.wait()
            seen["b ended when a left"] = seen["b"].ended
            a_left.set()

        async def task_b() -> None:
            with shared as b:
                seen["b"] = b
                b_inside.set()
                await a_left.wait()
                with rigscope.span("child") as child:
                    seen["child"] = child

        await asyncio.wait_for(asyncio.gather(task_a(), task_b()), 5)

    asyncio.run(main())
    a, b, child = seen["a"], seen["b"], seen["child"]
    assert not seen["b ended when a left"] and child.parent_id == b.span_id
    assert [e["span_id"] for e in ends(sent)] == [a.span_id, child.span_id, b.span_id]


def test_a_span_object_reentered_in_one_thread_still_nests(sent):
    shared = rigscope.span("again")
    with shared as outer:
        with shared as inner:
            pass
        assert inner.ended and not outer.ended
    assert inner.parent_id == outer.span_id
    assert [e["span_id"] for e in ends(sent)] == [inner.span_id, outer.span_id]


def test_a_block_exited_in_another_context_than_it_entered_still_ends_its_span(sent):
    import contextvars  # an async fixture's setup and teardown run in two tasks

    shared = rigscope.span("fixture")
    opened = contextvars.copy_context().run(shared.__enter__)
    contextvars.copy_context().run(shared.__exit__, None, None, None)
    assert opened.ended and [e["span_id"] for e in ends(sent)] == [opened.span_id]


# -- 2. what the receiver refuses is cleaned, and what cannot be sent is counted ---------------
def nest(levels: int) -> Any:
    deep: Any = "bottom"
    for _ in range(levels):
        deep = [deep]
    return deep


def test_attributes_the_receiver_refuses_are_cleaned_not_lost(sent):
    class Scalar:
        def item(self) -> float:
            return float("nan")

    deep = nest(40)
    rigscope.start_span("a", x=float("nan"), y=float("inf"), z=-math.inf, s=Scalar()).end()
    rigscope.start_span("b", tokens=10**30, small=-(2**63) - 1, edge=2**63 - 1, nested={"k": [float("nan")]}).end()
    rigscope.start_span("c", deep=deep, odd={1: float("nan"), (1, 2): "tuple key"}, text="\ud800 lone").end()
    with rigscope.span("d") as late:
        late.set(late=float("-inf"), big=10**40)
    a, b, c, d = ends(sent)
    assert a["attrs"] == {"x": None, "y": None, "z": None, "s": None}
    assert b["attrs"] == {"tokens": str(10**30), "small": str(-(2**63) - 1), "edge": 2**63 - 1,
                          "nested": {"k": [None]}}
    assert c["attrs"]["odd"] == {"1": None, "(1, 2)": "tuple key"} and c["attrs"]["text"] == "\ufffd lone"
    assert d["attrs"] == {"late": None, "big": str(10**40)}
    kept = c["attrs"]["deep"]  # nested as deep as the receiver takes (an event is level 0), the rest as text
    for _ in range(MAX_DEPTH - 2):
        kept = kept[0]
    assert kept == str(nest(40 - (MAX_DEPTH - 2)))
    assert 2**63 - 1 < MAX_INT  # the edge is the receiver's own


def test_names_over_the_receivers_cap_are_cut_to_it(sent):
    rigscope.start_span("L" * 300).end()
    rigscope.metric("m" * 300, 1.0)
    rigscope.tag("t" * 300)
    rigscope.note("text", tags=["n" * 300, "ok"])
    rigscope.start_span("\udc00" + "x" * 300).end()
    start, end, metric, tag, note, odd_start, _odd_end = taken(sent)
    assert start["name"] == end["name"] == "L" * MAX_NAME
    assert metric["name"] == "m" * MAX_NAME and tag["state"] == "t" * MAX_NAME
    assert note["tags"] == ["n" * MAX_NAME, "ok"]
    assert odd_start["name"] == "\ufffd" + "x" * (MAX_NAME - 1)


def test_what_the_probe_says_it_sent_is_what_the_receiver_takes(listener):
    rigscope.start_span("a", x=float("nan")).end()
    rigscope.start_span("b", tokens=10**30).end()
    rigscope.start_span("L" * 300).end()
    rigscope.tag("")  # a blank tag or note says nothing: the receiver refuses it, the probe counts it
    rigscope.note("  ")
    probe.flush()
    received = listener.collect(6)
    assert len(received) == 6 and all(parse_event(__import__("json").dumps(e)) for e in received)
    assert probe.stats()["sent"] == 6 and probe.dropped() == 2


def test_an_error_text_the_receiver_refuses_is_cleaned(sent):
    span = rigscope.start_span("e")
    span.end(error="bad \ud800 byte")
    with pytest.raises(ValueError):
        with rigscope.span("f"):
            raise ValueError("\udfff")
    first, second = ends(sent)
    assert first["error"] == "bad \ufffd byte" and second["error"] == "ValueError: \ufffd"


# -- 3. never raise into the workload ----------------------------------------------------------
class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_a_name_without_text_neither_raises_nor_is_sent(sent):
    with rigscope.span(Unprintable()) as s:
        inner = rigscope.start_span("inner")
    s.end()
    rigscope.start_span(Unprintable()).end()

    @rigscope.span(Unprintable())
    def work() -> int:
        return 7

    assert work() == 7
    assert inner.parent_id is None  # no span was opened
    assert [e["name"] for e in taken(sent)] == ["inner"] and probe.dropped() == 3


def test_an_attribute_called_name_is_an_attribute(sent):
    with rigscope.span("x", name="evil") as s:
        s.set(name="still an attribute")
    rigscope.start_span("y", name="evil").end(name="end")

    @rigscope.span("z", name="evil")
    def work() -> int:
        return 1

    assert work() == 1
    x_end, y_end, z_end = ends(sent)
    assert (x_end["name"], x_end["attrs"]) == ("x", {"name": "still an attribute"})
    assert (y_end["name"], y_end["attrs"]) == ("y", {"name": "end"})
    assert (z_end["name"], z_end["attrs"]) == ("z", {"name": "evil"})


def test_an_exception_without_text_still_ends_its_span_and_propagates(sent):
    class Mute(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no text")

    with pytest.raises(Mute):
        with rigscope.span("mute"):
            raise Mute()
    (end,) = ends(sent)
    assert end["success"] is False and end["error"] == "Mute" and probe.dropped() == 0


# -- 4. values as the docs say -----------------------------------------------------------------
def test_a_metric_without_a_value_is_sent_as_null(sent):
    rigscope.metric("m", None, step=3)
    (metric,) = taken(sent)
    assert metric["value"] is None and metric["step"] == 3


def test_a_step_that_is_no_integer_is_refused_and_counted(sent):
    import numpy

    rigscope.metric("m", 1.0, step=1.7)
    rigscope.metric("m", 1.0, step="3")
    rigscope.metric("m", 1.0, step=2**63)
    rigscope.metric("m", 1.0, step=numpy.int64(5))
    (metric,) = taken(sent)
    assert metric["step"] == 5 and probe.dropped() == 3


def test_a_request_id_of_none_is_absent(sent):
    with rigscope.span("r", request_id=None):
        pass
    rigscope.start_span("s").end(request_id=None)
    events = taken(sent)
    assert all("request_id" not in e["attrs"] for e in events)


def test_negative_counts_and_gpu_indices_are_null(sent):
    rigscope.start_span("n", tokens=-5, text_length_tokens=-1, text_length_chars=-2, audio_s=-0.5, gpu=-1).end()
    rigscope.start_span("k", tokens=0, text_length_chars=12, audio_s=1.5, gpu=99).end()
    first, second = ends(sent)
    assert first["attrs"] == {"tokens": None, "text_length_tokens": None, "text_length_chars": None,
                              "audio_s": None, "gpu": None}
    assert second["attrs"] == {"tokens": 0, "text_length_chars": 12, "audio_s": 1.5, "gpu": 99}
