"""The attach protocol: what a recorder and its viewers say on the attach socket, one JSON object a line.

Recorder to viewer (`t` names the message):

- `hello`: the session (id, folder, rate, host, GPUs), sent first;
- `batch`: one batch of the frame stream (`frame`, or null, and its `events`), encoded once for all viewers;
- `state`: where the recording stands, the viewers, the recorder's new notices and its process rows (once a second);
- `bye`: the recorder stopped on purpose (`reason`); a connection that ends without it means the recorder died.

Viewer to recorder: `event` (a note or a tag, as `rigscope note` sends it) and `stop` (end the recording:
`r` on an attached dashboard).  A viewer's line is at most `MAX_LINE` bytes; anything else is refused
and counted.  Only the standard library: viewers import it too.
"""

from __future__ import annotations

import json
from typing import Any

VERSION = 1
MAX_LINE = 64 * 1024  # a viewer's message: a note is at most 4,096 characters
HELLO, BATCH, STATE, BYE, EVENT, STOP = "hello", "batch", "state", "bye", "event", "stop"


def encode(message: dict[str, Any]) -> bytes:
    """One line of JSON; values JSON has no words for (a timestamp object) are written as text."""
    return json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n"


def encode_batch(frame: dict[str, Any] | None, events: tuple[dict[str, Any], ...]) -> bytes:
    return encode({"t": BATCH, "frame": frame, "events": list(events)})


def decode(line: bytes) -> dict[str, Any] | None:
    """The message in one line, or None when it is not a JSON object with a text `t`."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict) or not isinstance(message.get("t"), str):
        return None
    return message
