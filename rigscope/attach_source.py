"""The dashboard's third source: a running recorder, attached to through its socket (`rigscope attach`).

History first, from the session's files (recordings.tail: the sparkline window
before the first live batch), then the batches the recorder publishes, as a
live dashboard reads its sampler's: a reader thread hands them to the screen
feed's queue.  Keys that act on the session go to the recorder (notes and tags
land in its events.jsonl; `r` asks it to stop recording).  `q` detaches: the
recording goes on.  When the recorder stops (`bye`) or dies (the connection
ends without it), `gone` says which, and the screen offers the session in replay.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from collectors.event_parse import now_iso
from collectors.process_rows import ProcessSnapshot
from collectors.processes import ProcessControl
from collectors.stream import SCREEN, Batch, LossyQueue
from recordings.errors import InputError
from recordings.inert import inert
from recordings.spans import SPANS_JOURNAL, read_journal_rows
from recordings.tail import recent_events, recent_frames
from rigscope.attach_client import AttachClient
from rigscope.serve import attach_protocol as protocol
from tui.bars import SessionLabel
from tui.devices import feed_columns
from tui.feed import DashboardFeed
from tui.replay_source import devices_of_meta

RAW_HISTORY_S = 120.0  # the dashboard's raw ring (tui.feed)
LONG_HISTORY_S = 3600.0 - RAW_HISTORY_S  # its per-second means, up to the longest window
SHOWN_EVENTS = frozenset({"note", "tag", "collapse_start", "collapse_end", "alert"})  # the events pane's, from before
HISTORY_EVENTS = 200
JOURNAL_OVERLAP = 256  # the journal's last spans that the live stream may tell again after it was read


class AttachSource:
    """A `tui.source.DashboardSource` on a recorder's attach socket at `path`."""

    def __init__(self, path: str, readonly: bool = False, history: bool = True) -> None:
        self.client = AttachClient(path)
        hello = self.client.hello
        self.session_id = str(hello.get("session") or "?")
        folder = hello.get("folder")
        self.folder = Path(folder) if isinstance(folder, str) else None
        self.readonly = readonly
        host = found if isinstance(found := hello.get("host"), dict) else {}
        self.label = SessionLabel(str(host.get("hostname", "?")), str(host.get("hardware_tier", "")),
                                  self.session_id, "ATTACHED")
        self.devices = devices_of_meta(hello)
        hz = hello.get("hz")
        self.hz = float(hz) if isinstance(hz, (int, float)) and hz > 0 else 10.0
        self._frames = LossyQueue(max(SCREEN.min_batches, int(self.hz * SCREEN.backlog_s)))
        self.feed = DashboardFeed(self._frames, feed_columns(self.devices), self.hz)
        self.process_control = None if readonly else ProcessControl()  # the recorder's box is this one
        self._history = history
        self._journal_tail: set[Any] = set()  # the ids of the journal's last spans, once it was read
        self._state: dict[str, Any] = {}
        self._notices: deque[str] = deque()
        self.gone: str | None = None  # "stopped" (it said bye) or "died"; None while attached
        self.detached = False
        self.first_frame_at: float | None = None  # time.monotonic() of the first frame shown
        self._thread = threading.Thread(target=self._read, name="rigscope-attached", daemon=True)
        self.feed.start()
        self._thread.start()

    # -- the reader thread ------------------------------------------------------
    def _read(self) -> None:
        held: list[Batch] | None = [] if self._history else None  # the first batches, until a frame comes
        try:
            for message in self.client.messages():
                kind = message["t"]
                if kind == protocol.BATCH:
                    batch = protocol.decode_batch(message)
                    if held is None:
                        self._hand(batch)
                        continue
                    held.append(batch)
                    if batch.frame is not None:  # the history goes before it
                        self._hand_history(batch.frame, held)
                        held = None
                elif kind == protocol.STATE:
                    self._take_state(message)
        finally:
            self._ended()

    def _hand_history(self, first: dict[str, Any], waiting: list[Batch]) -> None:
        """The session's files up to the first live frame, then the batches held meanwhile, then the spans
        the journal has (after the frames: a day's spans must not hold back the first frame).  A span ended
        just before attaching can be both in the journal and on the stream: it is counted once."""
        ts = first.get("ts")
        if self.folder is None or not isinstance(ts, int):
            for batch in waiting:
                self._hand(batch)
            return
        for row in recent_frames(self.folder, ts, RAW_HISTORY_S, LONG_HISTORY_S):
            self.feed.add(row)  # straight in: an hour is more than the live queue holds
        self.feed.add(None, recent_events(self.folder, ts, SHOWN_EVENTS, HISTORY_EVENTS))
        for batch in waiting:
            self._hand(batch)
        streamed = {row.get("request_id") for batch in waiting for row in batch.spans}
        spans = read_journal_rows(self.folder / SPANS_JOURNAL)
        self._journal_tail = {row.get("request_id") for row in spans[-JOURNAL_OVERLAP:]}
        self.feed.take(Batch(None, spans=tuple(row for row in spans if row.get("request_id") not in streamed)))

    def _hand(self, batch: Batch) -> None:
        if batch.spans and self._journal_tail:  # told live after the journal was read, and in it already
            batch = dataclasses.replace(batch, spans=tuple(r for r in batch.spans
                                                           if r.get("request_id") not in self._journal_tail))
        self._frames.offer(batch)
        if self.first_frame_at is None and batch.frame is not None:
            self.first_frame_at = time.monotonic()

    def _take_state(self, message: dict[str, Any]) -> None:
        self._state = message
        for notice in message.get("notices") or ():
            if isinstance(notice, str):
                self._notices.append(notice)

    def _ended(self) -> None:
        if self.detached:
            return
        self.gone = "stopped" if self.client.said_bye else "died"
        what = ("the recorder stopped: the session is complete" if self.gone == "stopped"
                else "the recorder is gone (killed?): the session may be interrupted")
        self._notices.append(f"{what}; o opens {self.session_id} in replay")
        self._frames.close()

    # -- what the dashboard asks ------------------------------------------------
    def now_iso(self) -> str:
        return now_iso()  # the recorder runs on this machine: its clock is ours

    def post(self, kind: str, ts: str, **fields: Any) -> None:
        """A note or tag into the recorder's session (its events.jsonl), through the socket; InputError when
        the recorder is gone."""
        if not self.client.send({"t": protocol.EVENT, "event": {"ts": ts, "kind": kind, **fields}}):
            raise InputError(f"{kind} not saved: the recorder is gone")

    def recording(self) -> dict[str, Any] | None:
        recording = self._state.get("recording")
        if not isinstance(recording, dict) or (self.gone and not recording.get("error")):
            return None
        flushed = recording.get("last_flush_wall")
        return {**recording, "flush_age_s": time.time() - flushed if isinstance(flushed, (int, float)) else None}

    def toggle_recording(self) -> str:
        if self.readonly:
            return "read-only: r is off (rigscope serve --allow-actions turns it on)"
        if self.gone or not self.client.send({"t": protocol.STOP}):
            return "the recorder is gone"
        return f"asked the recorder to stop recording {self.session_id}"

    def processes(self) -> ProcessSnapshot | None:
        return self.feed.processes()

    def notices(self) -> list[str]:
        out = []
        while self._notices:
            out.append(self._notices.popleft())
        return out

    def close(self) -> str:
        """Detach: the recorder goes on."""
        if self.gone is None:
            self.detached = True
        self.client.close()
        self._thread.join(2.0)
        if self.gone is not None:
            return f"rigscope: the recorder of {inert(self.session_id)} has {self.gone}"
        return f"rigscope: detached from {inert(self.session_id)}; the recorder goes on"
