"""A span whose attributes hold a long text (an LLM's prompt, a TTS request's text) still arrives: a
long text is cut, and the length of a `text` attribute is kept for the span table."""

from __future__ import annotations

import rigscope
from collectors.event_parse import CUT_MARK, NOTE_CAP
from rigscope import probe


def test_a_span_with_a_long_prompt_arrives_with_the_prompt_cut_and_its_length_kept(listener):
    prompt = "翻译这句话。" * 2_000  # 12,000 characters, each six bytes of JSON: 72 kB, over a datagram
    with rigscope.span("generate", text=prompt, tokens=900) as opened:
        opened.set(reply="好" * 20_000)
    events = listener.collect(2)
    assert [e["kind"] for e in events] == ["span_start", "span_end"] and probe.dropped() == 0
    attrs = events[1]["attrs"]
    assert attrs["text"] == prompt[: NOTE_CAP - len(CUT_MARK)] + CUT_MARK
    assert len(attrs["reply"]) == NOTE_CAP and attrs["reply"].endswith(CUT_MARK)
    assert attrs["text_length_chars"] == 12_000 and attrs["tokens"] == 900


def test_a_text_length_given_by_the_caller_is_kept(listener):
    with rigscope.span("generate", text="x" * 70_000, text_length_chars=5):
        pass
    assert listener.collect(2)[1]["attrs"]["text_length_chars"] == 5


class Unprintable:
    """A value whose text cannot be had (a tensor of a CUDA context that failed raises in `str()`)."""

    def __str__(self) -> str:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")


def test_an_attribute_whose_text_fails_stands_in_and_the_span_still_arrives(listener):
    with rigscope.span("step", batch=Unprintable()) as opened:
        opened.set(loss=Unprintable(), shapes={Unprintable(): 1})
    events = listener.collect(2)
    assert [e["kind"] for e in events] == ["span_start", "span_end"] and probe.dropped() == 0
    assert events[0]["attrs"]["batch"] == "<Unprintable>"
    assert events[1]["attrs"] == {"batch": "<Unprintable>", "loss": "<Unprintable>", "shapes": {"<Unprintable>": 1}}


def test_a_stopped_recorder_does_not_grow_the_workloads_memory_beyond_the_queues_bytes(listener):
    """A dashboard suspended with Ctrl-Z: its socket is there and reads nothing; the workload's spans
    carry a 4,000-character text each.  What waits is bounded in bytes, not only in events."""
    from rigscope.probe_transport import MAX_QUEUED_BYTES

    text = "x" * 4_000
    for _ in range(5_000):
        with rigscope.span("generate", text=text):
            pass
    event_bytes = len('{"kind":"span_start"}') + len(text)
    assert probe.stats()["queued"] * event_bytes <= MAX_QUEUED_BYTES
    assert probe.dropped() > 0


def test_a_note_longer_than_a_datagram_arrives_cut_as_the_monitor_cuts_it(listener):
    config = "lr: 1e-4  # 学习率\n" * 8_000  # a whole config pasted into a note: 136,000 characters
    rigscope.note(config)
    notes = listener.collect(1)
    assert probe.dropped() == 0 and notes[0]["text"] == config[: NOTE_CAP - len(CUT_MARK)] + CUT_MARK


def test_a_span_with_several_long_texts_still_fits_a_datagram(listener):
    """Each text alone is within the cap, but three of them in JSON escapes (six bytes a character)
    would be 72 kB: the texts are cut shorter, so the span arrives."""
    prompt, reply, system = "翻" * 6_000, "译" * 6_000, "系" * 6_000
    with rigscope.span("generate", text=prompt, reply=reply, system=system, tokens=12):
        pass
    events = listener.collect(2)
    assert [e["kind"] for e in events] == ["span_start", "span_end"] and probe.dropped() == 0
    attrs = events[1]["attrs"]
    assert attrs["tokens"] == 12 and attrs["text_length_chars"] == 6_000
    for key, sent in (("text", prompt), ("reply", reply), ("system", system)):
        assert attrs[key].endswith(CUT_MARK) and sent.startswith(attrs[key][: -len(CUT_MARK)])
