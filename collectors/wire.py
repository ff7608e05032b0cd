"""The probe's wire protocol, defined once: what a sender puts in a datagram and the receiver takes.

A datagram is UTF-8 JSON objects, one a line (`SEPARATOR`), at most `MAX_DATAGRAM` bytes.  Each
object has a `kind` from `event_kinds.SENT` and the fields `REQUIRED` for it (collectors.event_parse
checks the rest, within the limits named here, which the probe keeps to).  Over UDP the first line is the session's token (`token_line`); a sender that
adds `"ack": true` to an event gets `ACK` back.  The probe (rigscope.probe_transport) and the
receiver (collectors.receiver) both use these names; only the standard library is imported here.
"""

from __future__ import annotations

import json

from collectors.event_kinds import EventKind

HOST = "127.0.0.1"  # the UDP channel listens on loopback only
MAX_DATAGRAM = 64 * 1024  # bytes; a larger datagram is refused whole
SEPARATOR = "\n"  # between the events of one datagram
TOKEN_FIELD = "token"
ACK_FIELD = "ack"
ACK = b"ok"
# What the receiver takes (collectors.event_parse refuses an event beyond them; the probe keeps within them).
MAX_DEPTH = 16  # levels of nesting in an event
MAX_NAME = 256  # characters of an id, a name, a state, a source, a note's tag
MAX_INT = 2**63  # integers beyond int64 are refused (they fit no column)
ERROR_CAP = 2000  # characters of a span's error message (the probe sends no more)
NOTE_CAP = 4096  # characters of a note's text (the receiver cuts it), and of a text in a span's attributes (the probe)
CUT_MARK = " …[cut]"
# Fields an event of each kind must have, as strings (a span's id and name, a tag's state, ...).
REQUIRED: dict[str, tuple[str, ...]] = {
    EventKind.NOTE: ("text",), EventKind.TAG: ("state",), EventKind.SPAN_START: ("span_id", "name"),
    EventKind.SPAN_END: ("span_id", "name"), EventKind.METRIC: ("name",)}


def token_line(token: str) -> str:
    """The first line of a UDP datagram: the session's token, and the separator."""
    return json.dumps({TOKEN_FIELD: token}, separators=(",", ":")) + SEPARATOR


def split_token(payload: bytes) -> tuple[str | None, bytes]:
    """(the token of a UDP datagram's first line, or None when it carries none; the events after it)."""
    head, _, rest = payload.partition(SEPARATOR.encode())
    if f'"{TOKEN_FIELD}"'.encode() not in head:
        return None, rest
    try:
        given = json.loads(head).get(TOKEN_FIELD)
    except (ValueError, AttributeError, RecursionError):
        return None, rest
    return (given if isinstance(given, str) else None), rest


def cut(text: str, cap: int) -> str:
    """`text` up to `cap` characters, with a mark when it was longer."""
    return text if len(text) <= cap else text[: cap - len(CUT_MARK)] + CUT_MARK


def encodable(text: str) -> str:
    """`text` with each lone surrogate (`"\\ud800"`, which JSON can carry and no UTF-8 can hold) as U+FFFD; a pair
    is joined, as a JSON reader joins it."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def acked(event: dict[str, object]) -> dict[str, object]:
    """`event` with the request for an acknowledgement."""
    return {**event, ACK_FIELD: True}
