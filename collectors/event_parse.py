"""What an event from outside must look like to be taken (a datagram line, an HTTP POST body).

Anything else is refused, never raised: invalid JSON or UTF-8, nesting deeper than 16 levels,
a non-finite or huge number (NaN, `Infinity`, `1e400`, a `ts` of `1e300`; a metric's `value` may
be NaN or infinite), text with lone surrogates, a field of the wrong type, an id or name over
256 characters, a note's text or a tag's state that is empty or blank.  A note's text is cut at
4,096 characters with a mark, and a span's error at 2,000.  Text is kept as sent: it is made
inert where it is shown (recordings.inert).
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from collectors.event_kinds import SENT, EventKind
from collectors.timeutil import iso_from_us, us_from_iso
from collectors.wire import CUT_MARK, ERROR_CAP, MAX_DEPTH, MAX_INT, MAX_NAME, NOTE_CAP, REQUIRED, cut

__all__ = ["CUT_MARK", "NOTE_CAP", "cut", "now_iso", "parse_event", "typed_event"]
MAX_TS_S = 253_402_300_800.0  # 10000-01-01: a numeric ts must be seconds since 1970 before this
NAMES = ("text", "state", "span_id", "name", "parent_id", "source")


def now_iso() -> str:
    return iso_from_us(time.time_ns() // 1000)


def parse_event(payload: bytes | str) -> dict[str, Any] | None:
    """The event in one JSON text, or None when it is not a valid one."""
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    if not isinstance(event, dict):
        return None
    kind = event.get("kind")
    if not isinstance(kind, str) or kind not in SENT:
        return None
    try:
        return _checked(kind, event)
    except (ValueError, TypeError, OverflowError, RecursionError):
        return None


def _checked(kind: str, event: dict[str, Any]) -> dict[str, Any] | None:
    if any(not isinstance(event.get(name), str) for name in REQUIRED[kind]):
        return None
    if kind in (EventKind.NOTE, EventKind.TAG) and not event[REQUIRED[kind][0]].strip():
        return None  # an empty note or tag says nothing (and a tag "" would name no phase)
    value = event.pop("value", None) if kind == EventKind.METRIC else None
    if not (value is None or isinstance(value, float) or (_is_number(value) and _sane(value, 0))) \
            or not _sane(event, 0):
        return None
    if kind == EventKind.METRIC:
        event["value"] = value
    if not _shapes_ok(event):
        return None
    if kind == EventKind.NOTE:
        event["text"] = cut(event["text"], NOTE_CAP)
    if isinstance(event.get("error"), str):
        event["error"] = cut(event["error"], ERROR_CAP)
    ts = event.get("ts")
    if ts is None:
        event["ts"] = now_iso()
    elif _is_number(ts):
        if not 0 <= ts < MAX_TS_S:
            return None
        event["ts"] = iso_from_us(round(ts * 1e6))
    elif not _valid_ts(ts):
        return None
    return event


def typed_event(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The fields of a note or tag typed on a screen (live or replay), held to any sender's limits: a note's text
    cut at NOTE_CAP; ValueError (its message for the screen) for a tag over MAX_NAME characters."""
    if kind == EventKind.TAG and len(fields["state"]) > MAX_NAME:
        raise ValueError(f"a tag is at most {MAX_NAME} characters (this one has {len(fields['state'])}): not tagged")
    if kind == EventKind.NOTE:
        return {**fields, "text": cut(fields["text"], NOTE_CAP)}
    return fields


def _sane(value: Any, depth: int) -> bool:
    """Finite numbers, int64 integers, encodable text, at most MAX_DEPTH levels, all the way down."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800"): no file could hold it
            return False
        return True
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return -MAX_INT <= value < MAX_INT
    if isinstance(value, float):
        return math.isfinite(value)
    if depth >= MAX_DEPTH:
        return False
    if isinstance(value, list):
        return all(_sane(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(_sane(key, depth + 1) and _sane(item, depth + 1) for key, item in value.items())
    return False


def _shapes_ok(event: dict[str, Any]) -> bool:
    """The optional fields, where present, have the types the readers expect."""
    for name in NAMES:
        text = event.get(name)
        if text is not None and (not isinstance(text, str) or (name != "text" and len(text) > MAX_NAME)):
            return False
    tags = event.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) and len(t) <= MAX_NAME
                                                                 for t in tags)):
        return False
    checks = (("attrs", dict), ("success", bool), ("error", str), ("start_ts", str))
    if any(event.get(name) is not None and not isinstance(event[name], kind) for name, kind in checks):
        return False
    if event.get("start_ts") is not None and not _valid_ts(event["start_ts"]):
        return False
    duration = event.get("duration_s")
    if duration is not None and not (_is_number(duration) and duration >= 0):
        return False
    step = event.get("step")
    return step is None or (isinstance(step, int) and not isinstance(step, bool))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _valid_ts(ts: Any) -> bool:
    if not isinstance(ts, str) or len(ts) > 64:
        return False
    try:
        us_from_iso(ts)
    except (ValueError, OverflowError):
        return False
    return True
