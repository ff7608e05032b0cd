"""The probe's encoding: each event as one line of JSON text, built for speed (collectors.wire).

The texts are put together from pre-quoted parts (a probe call costs about a microsecond);
`tests/probe` parses every one with the receiver's own parser, so they stay the protocol's.
Attribute values json cannot encode go as `.item()` (numpy, torch scalars) or as text.
Only the standard library (and collectors.event_kinds and collectors.wire) is imported here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from json.encoder import encode_basestring_ascii as quote
from time import time_ns
from typing import Any

from collectors.event_kinds import EventKind
from collectors.wire import ERROR_CAP

# The last second seen and its text up to the decimal point, replaced whole (one assignment): a thread
# or signal handler taking the clock between two halves of an update would pair a second with another's text.
_second: tuple[int, str] = (-1, "")


def now() -> str:
    """The wall clock as ISO 8601 UTC with µs and a Z; the part up to the second is cached."""
    global _second
    us = time_ns() // 1000
    seconds, head = _second
    if seconds != us // 1_000_000:
        seconds = us // 1_000_000
        head = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(seconds))
        _second = (seconds, head)
    return head + str(us % 1_000_000 + 1_000_000)[1:] + "Z"  # six digits, faster than a format spec


def plain(value: Any) -> Any:
    """A JSON stand-in for what json cannot encode: numpy and torch scalars by `.item()`, else its text."""
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return item()
        except Exception:  # noqa: BLE001 (a tensor with many elements, ...)
            pass
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return as_text(value)


def as_text(value: Any) -> str:
    """`str(value)`, or `<TypeName>` when that raises (a tensor of a failed CUDA context): one value
    whose text cannot be had does not cost its whole span."""
    try:
        return str(value)
    except Exception:  # noqa: BLE001
        return f"<{type(value).__name__}>"


def compact_encoder() -> Callable[[Any], str]:
    """Compact ASCII JSON with `plain` for the rest, and no circular check.

    The C encoder built once is 0.8 µs for a span's four attributes against 1.3 µs for the public
    `JSONEncoder.encode` (which builds one per call): that is the probe's budget per event, so the
    private `c_make_encoder` is used when this Python has it, with the public encoder as fallback;
    tests/probe checks that both give the same text."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover (Python builds without the C accelerator)
        return json.JSONEncoder(separators=(",", ":"), default=plain, check_circular=False).encode
    chunks = make(None, plain, quote, None, ":", ",", False, False, True)
    return lambda value: "".join(chunks(value, 0))


encode = compact_encoder()


def number(value: Any) -> str:
    """A float as JSON, NaN and the infinities as Python's json writes them (the receiver keeps them)."""
    result = float(value)
    if result - result == 0:  # finite
        return repr(result)
    return "NaN" if result != result else ("Infinity" if result > 0 else "-Infinity")


def describe(error: BaseException) -> str:
    """`Type: message`, or the type alone when the message is empty or its `str()` fails."""
    try:
        message = str(error)
    except Exception:  # noqa: BLE001 (an exception's own __str__ may raise)
        message = ""
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return text[:ERROR_CAP]


_SPAN_START = f'{{"kind":"{EventKind.SPAN_START}","ts":"'
_SPAN_END = f'{{"kind":"{EventKind.SPAN_END}","ts":"'
_TAG = f'{{"kind":"{EventKind.TAG}","ts":"'
_METRIC = f'{{"kind":"{EventKind.METRIC}","ts":"'
_NOTE = f'{{"kind":"{EventKind.NOTE}","ts":"'


def span_start(ts: str, span_id: str, name: str, parent_id: str | None, attrs_json: str) -> tuple[str, str]:
    """(what a span's start and end share: id, name, parent; the span_start event)."""
    head = (f'"span_id":"{span_id}","name":{quote(name)},'
            f'"parent_id":{"null" if parent_id is None else quote(parent_id)}')
    return head, f'{_SPAN_START}{ts}",{head},"attrs":{attrs_json}}}'


def span_end(ts: str, head: str, start_ts: str, duration_s: float, success: bool, error: str | None,
             attrs_json: str) -> str:
    message = "null" if error is None else quote(error[:ERROR_CAP])
    return (f'{_SPAN_END}{ts}",{head},"start_ts":"{start_ts}","duration_s":{duration_s!r},'
            f'"success":{"true" if success else "false"},"error":{message},"attrs":{attrs_json}}}')


def tag(ts: str, state: str) -> str:
    return f'{_TAG}{ts}","state":{quote(state)},"source":"probe"}}'


def metric(ts: str, name: str, value: Any, step: int | None) -> str:
    """A metric's event; a `value` of None is null (no reading at this step)."""
    tail = "" if step is None else f',"step":{step}'
    return f'{_METRIC}{ts}","name":{quote(name)},"value":{"null" if value is None else number(value)}{tail}}}'


def note(ts: str, text: str, tags: list[str] | None) -> str:
    tail = "" if not tags else f',"tags":{encode(tags)}'
    return f'{_NOTE}{ts}","text":{quote(text)},"source":"probe"{tail}}}'
