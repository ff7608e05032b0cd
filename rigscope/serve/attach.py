"""The attach publisher: a recorder's frame stream on a per-user Unix stream socket, for any number of viewers.

A sink of the frame stream (`ATTACH`, lossy on real time: it never makes the
sampler wait).  One thread takes the stream's batches, encodes each ONCE
(rigscope.serve.attach_protocol) and appends the same bytes to every viewer's
bounded buffer, then writes what each socket takes without blocking.  A viewer
that stops reading (its buffer over `max_pending` bytes, or no progress for
`stall_s` with bytes waiting) is dropped and said so; the others and the
sampler never wait for it.  A connection is a viewer once it asks to attach (its first line):
until then it is sent nothing and counted nowhere, so a liveness check (connect, close) costs one
accept, and one that says nothing for `JOIN_WAIT_S` is closed.  A short ring of the latest batches (`RECENT_S`)
lets a new viewer join the session's files without a gap.

The socket lives in the user's runtime directory (rigscope.local_channel), 0600;
the peer's uid is read at accept (`SO_PEERCRED`) and another uid is refused and
counted.  What viewers send (notes, tags, `stop`) goes through the session's
read interface (`AttachedSession`), so nothing here imports the monitor; a line
that is not a valid message is refused and counted, and no input ends the thread.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from collectors.event_kinds import EventKind
from collectors.event_parse import parse_event
from collectors.stream import END, RESET, Batch, FrameQueue, Sink
from rigscope.serve import attach_protocol as protocol

# Room for a second of a simulation run as fast as it goes: on virtual time every queue is lossless, and the
# publisher, which looks every 0.1 s, held `record --speed max` to 100 batches a look (900 samples a second).
ATTACH = Sink("attach publisher", backlog_s=10.0, min_batches=1000, latency_s=0.1, side_records=True)
RECENT_S = 5.0  # the latest batches a new viewer gets first (the session's files lag by a flush)
STATE_EVERY_S = 1.0
MAX_PENDING_BYTES = 4 << 20
STALL_S = 10.0
MAX_VIEWERS = 64
IN_LINES_PER_S, IN_BYTES_PER_S = 100, 256 << 10  # far above a person's typing: more, and the viewer is dropped
JOIN_WAIT_S = 5.0  # how long a connection may take to ask to attach (a liveness check never asks: it hangs up)
BYE_FLUSH_S = 1.0  # how long a stopping recorder tries to hand its last bytes over
PEER_CRED = struct.Struct("3i")  # pid, uid, gid of SO_PEERCRED


class AttachedSession(Protocol):
    """What the publisher reads of a recorder (built from a monitor by rigscope.serve.wiring)."""

    def hello(self) -> dict[str, Any]:
        """The session: id, folder, rate, host, GPUs."""
        ...

    def state(self) -> dict[str, Any]:
        """Where the recording stands and the workload state, for the `state` message."""
        ...

    def notices(self) -> list[str]:
        """The recorder's notices since the last call."""
        ...

    def post_event(self, event: dict[str, Any]) -> bool:
        """A viewer's note or tag into the session (rate-limited as any sender's)."""
        ...

    def request_stop(self) -> None:
        """End the recording (a viewer's `r`)."""
        ...


class Viewer:
    """One attached viewer: its socket, who it is, what waits to be written to it, what it sent half of."""

    def __init__(self, sock: socket.socket, number: int, pid: int) -> None:
        self.sock = sock
        self.number = number
        self.pid = pid
        self.out: deque[bytes] = deque()
        self.pending = 0
        self.inbox = bytearray()
        self.stalled_since: float | None = None  # when bytes began to wait without progress
        self.connected_at = time.monotonic()
        self._sent_in = (0.0, 0, 0)  # what it sent us: the start of the current second, lines and bytes since

    def within_budget(self, lines: int, size: int, now: float) -> bool:
        """Count what it sent; False once it sent more in a second than IN_LINES_PER_S or IN_BYTES_PER_S."""
        start, seen_lines, seen_bytes = self._sent_in
        if now - start >= 1.0:
            start, seen_lines, seen_bytes = now, 0, 0
        self._sent_in = (start, seen_lines + lines, seen_bytes + size)
        return seen_lines + lines <= IN_LINES_PER_S and seen_bytes + size <= IN_BYTES_PER_S

    def name(self) -> str:
        return f"viewer {self.number} (pid {self.pid})"

    def queue(self, data: bytes) -> None:
        self.out.append(data)
        self.pending += len(data)

    def flush(self, now: float) -> None:
        """Write what the socket takes now (never waits)."""
        while self.out:
            head = self.out[0]
            try:
                sent = self.sock.send(head)
            except (BlockingIOError, InterruptedError):
                break
            if sent:
                self.stalled_since = None
            self.pending -= sent
            if sent < len(head):
                self.out[0] = head[sent:]
                break
            self.out.popleft()
        if self.out and self.stalled_since is None:
            self.stalled_since = now


class AttachPublisher:
    """Serves `frames` (a subscription of the session's stream) to viewers on the socket at `path`."""

    def __init__(self, frames: FrameQueue, session: AttachedSession, path: str, hz: float,
                 say: Callable[[str], None] = lambda _: None, max_pending: int = MAX_PENDING_BYTES,
                 stall_s: float = STALL_S) -> None:
        self._frames = frames
        self._session = session
        self._say = say
        self.max_pending = max_pending
        self.stall_s = stall_s
        self.path = path
        self.viewers: dict[socket.socket, Viewer] = {}
        self._callers: dict[socket.socket, Viewer] = {}  # connected, not yet asked to attach
        self.attached = self.dropped = self.refused_uid = self.refused_full = self.rejected = 0
        # The latest batches, each with its line once encoded (for a viewer, then kept for those who join later).
        self._recent: deque[tuple[Batch, bytes | None]] = deque(maxlen=max(10, int(hz * RECENT_S)))
        self._state_line = b""
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._listener.bind(path)
            os.chmod(path, 0o600)
            self._listener.listen(16)
        except OSError:
            self._listener.close()
            raise
        self._listener.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._numbers = iter(range(1, 1 << 62))
        self._thread = threading.Thread(target=self._run, name="rigscope-attach", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def close(self) -> None:
        """Free the socket (a monitor that never started; the thread does this itself at END)."""
        if not self._thread.is_alive():
            self._close_all()

    def stats(self) -> dict[str, int]:
        """viewers (now), attached (ever), dropped (stuck), refused_uid, refused_full, rejected (bad lines)."""
        return {"viewers": len(self.viewers), "attached": self.attached, "dropped": self.dropped,
                "refused_uid": self.refused_uid, "refused_full": self.refused_full, "rejected": self.rejected}

    # -- the thread -----------------------------------------------------------
    def _run(self) -> None:
        try:
            self._serve()
        except Exception as error:  # noqa: BLE001 (loud, and the recording goes on without viewers)
            self._say(f"the attach socket failed ({type(error).__name__}: {error}); viewers cannot attach, "
                      "the recording goes on")
        finally:  # on virtual time the queue is lossless: a publisher that ended must not hold the sampler
            self._frames.abandon()
            self._close_all()

    def _serve(self) -> None:
        next_state = 0.0
        while True:
            for key, mask in self._selector.select(ATTACH.latency_s):
                if key.fileobj is self._listener:
                    self._accept()
                elif key.fileobj in self.viewers:
                    self._ready(self.viewers[key.fileobj], mask)
                elif key.fileobj in self._callers:
                    self._read(self._callers[key.fileobj])
            if self._take_batches():
                self._bye()
                return
            now = time.monotonic()
            if now >= next_state:
                next_state = now + STATE_EVERY_S
                self._send_state()
            self._check_stalled(now)

    def _take_batches(self) -> bool:
        """Encode each new batch once and queue the bytes for every viewer; True at END."""
        while True:
            batch = self._frames.get(timeout=0)
            if batch is None:
                return False
            if batch is END:
                return True
            if batch is RESET:
                continue
            line = protocol.encode_batch(batch) if self.viewers else None  # nobody attached: nothing to encode
            self._recent.append((batch, line))
            if line is not None:
                self._send_all(line)

    def _send_state(self) -> None:
        try:
            state = self._session.state()
            state.update(viewers=len(self.viewers), notices=self._session.notices())
            self._state_line = protocol.encode({"t": protocol.STATE, **state})
        except Exception as error:  # noqa: BLE001 (a state that cannot be read is said, never fatal)
            self._state_line = protocol.encode({"t": protocol.STATE, "error": str(error)})
        self._send_all(self._state_line)

    def _send_all(self, data: bytes) -> None:
        now = time.monotonic()
        for viewer in list(self.viewers.values()):
            if viewer.pending + len(data) > self.max_pending:
                self._drop(viewer, f"dropped: {viewer.pending + len(data):,} bytes waiting (it stopped reading)")
                continue
            viewer.queue(data)
            self._flush(viewer, now)

    def _flush(self, viewer: Viewer, now: float) -> None:
        try:
            viewer.flush(now)
        except OSError:  # it went away (killed): gone, not an error of ours
            self._forget(viewer)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if viewer.out else 0)
        if self._selector.get_key(viewer.sock).events != events:
            self._selector.modify(viewer.sock, events)

    def _check_stalled(self, now: float) -> None:
        for viewer in list(self.viewers.values()):
            if viewer.stalled_since is not None and now - viewer.stalled_since > self.stall_s:
                self._drop(viewer, f"dropped: nothing read for {self.stall_s:g} s")
        for caller in list(self._callers.values()):
            if now - caller.connected_at > JOIN_WAIT_S:
                self._forget(caller)

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except OSError:
            return
        pid, uid, _gid = PEER_CRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, PEER_CRED.size))
        if uid != os.getuid():
            self.refused_uid += 1
            sock.close()
            return
        if len(self.viewers) + len(self._callers) >= MAX_VIEWERS:
            self.refused_full += 1
            try:  # a few bytes into a new socket's empty buffer: never waits
                sock.setblocking(False)
                sock.send(protocol.encode({"t": protocol.BYE, "reason": f"{MAX_VIEWERS} viewers are attached already"}))
            except OSError:
                pass
            sock.close()
            return
        sock.setblocking(False)
        self._callers[sock] = Viewer(sock, 0, pid)
        self._selector.register(sock, selectors.EVENT_READ)

    def _join(self, viewer: Viewer) -> None:
        """A connection that asked to attach: now a viewer, sent the session, the recent batches and the state."""
        del self._callers[viewer.sock]
        viewer.number = next(self._numbers)
        self.viewers[viewer.sock] = viewer
        self.attached += 1
        viewer.queue(protocol.encode({"t": protocol.HELLO, "version": protocol.VERSION, **self._session.hello()}))
        for line in self._recent_lines():
            viewer.queue(line)
        if self._state_line:
            viewer.queue(self._state_line)
        self._flush(viewer, time.monotonic())

    def _recent_lines(self) -> list[bytes]:
        """The recent batches' lines, each batch encoded once however many viewers join."""
        recent = [(batch, line if line is not None else protocol.encode_batch(batch)) for batch, line in self._recent]
        self._recent.clear()
        self._recent.extend(recent)
        return [line for _, line in recent]

    def _ready(self, viewer: Viewer, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self._flush(viewer, time.monotonic())
        if mask & selectors.EVENT_READ and viewer.sock in self.viewers:
            self._read(viewer)

    def _read(self, viewer: Viewer) -> None:
        try:
            data = viewer.sock.recv(protocol.MAX_LINE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # detached (q), killed, or a liveness check
            self._forget(viewer)
            return
        viewer.inbox += data
        if viewer.sock in self._callers and not self._greeted(viewer):
            return
        if not viewer.within_budget(viewer.inbox.count(b"\n"), len(data), time.monotonic()):
            self._drop(viewer, f"dropped: it sent over {IN_LINES_PER_S} lines or {IN_BYTES_PER_S:,} bytes in a "
                               "second (its input is not read: it would slow the recorder)")
            return
        *lines, rest = viewer.inbox.split(b"\n")
        viewer.inbox = bytearray(rest)
        for line in lines:
            self._take(viewer, bytes(line))
        if len(viewer.inbox) > protocol.MAX_LINE:
            self.rejected += 1
            self._drop(viewer, f"dropped: a line over {protocol.MAX_LINE:,} bytes")

    def _greeted(self, caller: Viewer) -> bool:
        """Whether `caller`'s first line asked to attach (it is then a viewer); one that asked anything else
        is refused and closed."""
        line, newline, rest = caller.inbox.partition(b"\n")
        if not newline and len(caller.inbox) <= protocol.MAX_LINE:
            return False  # the line is still coming
        message = protocol.decode(bytes(line)) if newline else None
        if message is None or message["t"] != protocol.ATTACH:
            self.rejected += 1
            self._forget(caller)
            return False
        caller.inbox = bytearray(rest)
        self._join(caller)
        return caller.sock in self.viewers

    def _take(self, viewer: Viewer, line: bytes) -> None:
        if not line.strip():
            return
        message = protocol.decode(line)
        kind = message.get("t") if message else None
        if kind == protocol.EVENT and isinstance(message, dict):
            event = parse_event(json.dumps(message.get("event"), default=str))
            if event is not None and event["kind"] in (EventKind.NOTE, EventKind.TAG) and self._session.post_event(event):
                return
        elif kind == protocol.STOP:
            self._say(f"{viewer.name()} stopped the recording")
            self._session.request_stop()
            return
        self.rejected += 1

    def _drop(self, viewer: Viewer, why: str) -> None:
        self.dropped += 1
        self._say(f"{viewer.name()} {why}")
        self._forget(viewer)

    def _forget(self, viewer: Viewer) -> None:
        if self.viewers.pop(viewer.sock, None) is None and self._callers.pop(viewer.sock, None) is None:
            return
        try:
            self._selector.unregister(viewer.sock)
        except (KeyError, ValueError):
            pass
        viewer.sock.close()

    def _bye(self) -> None:
        """The recorder stopped: the last state and `bye` to each viewer, handed over within BYE_FLUSH_S."""
        self._send_state()
        self._send_all(protocol.encode({"t": protocol.BYE, "reason": "the recorder stopped"}))
        deadline = time.monotonic() + BYE_FLUSH_S
        while any(viewer.out for viewer in self.viewers.values()) and time.monotonic() < deadline:
            self._selector.select(0.05)
            for viewer in list(self.viewers.values()):
                self._flush(viewer, time.monotonic())

    def _close_all(self) -> None:
        for viewer in [*self.viewers.values(), *self._callers.values()]:
            self._forget(viewer)
        try:
            self._selector.unregister(self._listener)
        except (KeyError, ValueError):
            pass
        self._listener.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass
