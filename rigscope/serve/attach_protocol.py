"""The attach protocol: what a recorder and its viewers say on the attach socket, one JSON object a line.

A viewer speaks first: `attach` (with its `version`) makes a connection a viewer; a connection that says
nothing (a check whether the recorder is alive) is sent nothing and counted nowhere.

Recorder to viewer (`t` names the message):

- `hello`: the session (id, folder, rate, host, GPUs), sent first;
- `batch`: one batch of the frame stream (`frame`, or null, its `events`, finished `spans` and `processes`, the
  latest process rows, or null), encoded once for all viewers;
- `state`: where the recording stands, the viewers and the recorder's new notices (once a second);
- `bye`: the recorder stopped on purpose (`reason`); a connection that ends without it means the recorder died.

Viewer to recorder: `event` (a note or a tag, as `rigscope note` sends it) and `stop` (end the recording:
`r` on an attached dashboard).  A viewer's line is at most `MAX_LINE` bytes; anything else is refused
and counted.
"""

from __future__ import annotations

import json
from typing import Any

from collectors.process_rows import ProcessSnapshot
from collectors.stream import Batch

VERSION = 2  # 2: the viewer asks to attach first
MAX_LINE = 64 * 1024  # a viewer's message: a note is at most 4,096 characters
HELLO, BATCH, STATE, BYE, EVENT, STOP = "hello", "batch", "state", "bye", "event", "stop"
ATTACH = "attach"


def encode(message: dict[str, Any]) -> bytes:
    """One line of JSON; values JSON has no words for (a timestamp object) are written as text."""
    return json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n"


def encode_batch(batch: Batch) -> bytes:
    """A batch of the stream: its frame (or null), events, finished span rows and process rows (or null)."""
    processes = batch.processes
    return encode({"t": BATCH, "frame": batch.frame, "events": list(batch.events), "spans": list(batch.spans),
                   "processes": None if processes is None else {"version": processes.version, "ts": processes.ts,
                                                                "rows": list(processes.rows)}})


def decode_batch(message: dict[str, Any]) -> Batch:
    """The batch a `batch` message carries; what is not of its kind is left out."""
    frame, events, spans, rows = (message.get(key) for key in ("frame", "events", "spans", "processes"))
    processes = None
    if isinstance(rows, dict) and isinstance(rows.get("version"), int):
        ts = rows.get("ts")
        processes = ProcessSnapshot(rows["version"], ts if isinstance(ts, int) else None,
                                    tuple(r for r in rows.get("rows") or () if isinstance(r, dict)))
    return Batch(frame if isinstance(frame, dict) else None,
                 tuple(e for e in events if isinstance(e, dict)) if isinstance(events, list) else (),
                 tuple(r for r in spans if isinstance(r, dict)) if isinstance(spans, list) else (), processes)


def decode(line: bytes) -> dict[str, Any] | None:
    """The message in one line, or None when it is not a JSON object with a text `t`."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict) or not isinstance(message.get("t"), str):
        return None
    return message
