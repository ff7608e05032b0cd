"""What a probe call is given, made what the receiver takes (its limits are collectors.wire's).

The receiver refuses a whole event for one value it cannot store (collectors.event_parse), so the
probe cleans before it encodes, and the span still arrives:

- a name (a span's, a metric's, a tag's state, a note's tag) is cut at `MAX_NAME` characters;
- a text in attributes is cut at `NOTE_CAP` characters with a mark (a long prompt would make the
  event too big to send; rigscope.probe cuts them at `MAX_NAME` where several would), and a `text`
  attribute cut so has its length in `text_length_chars`;
- text with a lone surrogate (`"\\ud800"`, which no file can hold) has each one replaced by U+FFFD;
- in attributes, NaN and the infinities become null, an integer beyond int64 its decimal text, a
  container nested deeper than the receiver takes its text, and what json cannot encode its stand-in
  (`probe_encoding.plain`: `.item()`, a list, else its text);
- a metric's `step` must be a whole number (an `int`, a numpy or torch integer, or a float such as
  `1200.0`) within int64: anything else is refused (`step=1.7` is a caller's mistake, not step 1);
- the special attributes: `request_id=None` is left out (the span id stands in for it), and a
  negative count (`tokens`, `text_length_tokens`, `text_length_chars`), `audio_s` or `gpu` index is
  null (unknown, never a reading).

Only the standard library (and collectors.wire) is imported here.
"""

from __future__ import annotations

from operator import index
from typing import Any

from collectors.wire import MAX_DEPTH, MAX_INT, MAX_NAME, NOTE_CAP, cut, encodable
from rigscope.probe_encoding import as_text, plain

NOT_NEGATIVE = frozenset({"tokens", "text_length_tokens", "text_length_chars", "audio_s", "gpu"})
_ATTRS_DEPTH = 2  # an event is level 0, its `attrs` level 1, their values level 2


def name(value: Any) -> str:
    """A name as text the receiver takes: at most `MAX_NAME` characters.  Raises when `str(value)` does."""
    result = value if type(value) is str else str(value)
    return encodable(result[:MAX_NAME])


def step(value: Any) -> int:
    """A metric's step as an int (a float holding a whole number is that number: `global_step / 2`);
    ValueError or TypeError when it is no integer within int64."""
    if type(value) is int:  # the usual case, first
        result = value
    elif isinstance(value, (bool, str, bytes)):
        raise TypeError(f"a step is no {type(value).__name__}")
    else:
        try:
            result = index(value)
        except TypeError:
            number = float(value)  # a float, a numpy or torch float; TypeError for anything else
            if not number.is_integer():  # 1.7, NaN, the infinities
                raise ValueError(f"step {number!r} is no whole number") from None
            result = int(number)
    if not -MAX_INT <= result < MAX_INT:
        raise ValueError(f"step {result} is beyond int64")
    return result


def attributes(attrs: dict[str, Any], cap: int = NOTE_CAP) -> dict[str, Any]:
    """A span's attributes as the receiver takes them (see the module's docstring), each text cut at
    `cap` characters: `attrs` itself when nothing needs cleaning (the usual case, checked in a third of
    the time cleaning takes)."""
    for key, value in attrs.items():
        kind = type(value)
        if key.isascii() and (kind is bool or (kind is str and value.isascii() and len(value) <= cap)
                              or ((kind is int or kind is float) and 0 <= value < MAX_INT)):  # not NaN, not inf
            continue
        return _cleaned(attrs, cap)
    return attrs


def _cleaned(attrs: dict[str, Any], cap: int) -> dict[str, Any]:
    cleaned = {}
    for key, value in attrs.items():
        if value is None and key == "request_id":
            continue
        value = _value(value, _ATTRS_DEPTH, cap)
        if key in NOT_NEGATIVE and type(value) in (int, float) and value < 0:
            value = None
        cleaned[encodable(key if type(key) is str else as_text(key))] = value
    long_text = attrs.get("text")
    if type(long_text) is str and len(long_text) > cap and "text_length_chars" not in attrs:
        cleaned["text_length_chars"] = len(long_text)  # what the span table's column says, before the cut
    return cleaned


def _value(value: Any, depth: int, cap: int) -> Any:
    kind = type(value)
    if kind is str:
        return encodable(cut(value, cap))
    if kind is float:
        return value if value - value == 0 else None  # NaN and the infinities: null
    if kind is int:
        return value if -MAX_INT <= value < MAX_INT else str(value)
    if value is None or kind is bool:
        return value
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        if depth >= MAX_DEPTH:
            return _value(as_text(value), depth, cap)
        if isinstance(value, dict):
            return {encodable(as_text(key)): _value(item, depth + 1, cap) for key, item in value.items()}
        return [_value(item, depth + 1, cap) for item in value]
    for basic in (str, float, int):  # a subclass (an enum's member, numpy.float64): its plain value
        if isinstance(value, basic):
            return _value(basic(value), depth, cap)
    stand_in = plain(value)
    if stand_in is not None and type(stand_in) not in (str, float, int, bool, list):
        stand_in = as_text(stand_in)
    return _value(stand_in, depth, cap)
