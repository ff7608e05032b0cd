"""Receives events (notes, tags, probe events) as JSON datagrams: from this user, or with the session's token.

Two channels, read by one thread:

- the recorder's own Unix datagram socket in the user's runtime directory (rigscope.local_channel),
  0600; each datagram carries its sender's credentials (`SO_PASSCRED`) and one from another uid
  is refused and counted (`refused_uid`);
- only when asked (`--probe-udp`), a UDP port on 127.0.0.1 for senders that cannot reach the
  socket (a container, another language): each datagram must start with the line
  `{"token": "<the session's token>"}`; one without it is dropped and counted (`refused_token`).

One datagram holds one JSON object with a `kind`, or several, one a line (the probe batches
them); collectors.event_parse says what is taken.  A sender that sets `"ack": true` gets `ok`
back, so a command line tool can tell that the recorder took its event.  Floods are cut by a
token bucket (20,000 events/s, bursts of 20,000) and, per kind, notes to 20/s and tags to 100/s;
what they drop is counted.  Whatever arrives, the receiver goes on; were its loop ever to fail,
it says so (`on_notice`) and starts again (`restarts`).
"""

from __future__ import annotations

import hmac
import json
import os
import select
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from collectors.event_kinds import EventKind
from collectors.event_parse import parse_event
from collectors.wire import ACK, ACK_FIELD, HOST, MAX_DATAGRAM, SEPARATOR, acked, split_token

RATE_LIMIT = 20_000.0  # events per second, sustained
RATE_BURST = 20_000.0  # events accepted at once after a quiet spell
# (per second, burst) per kind, beyond the global limit
KIND_RATES = {EventKind.NOTE: (20.0, 100.0), EventKind.TAG: (100.0, 500.0)}
RECEIVE_BUFFER_BYTES = 4 << 20  # room for bursts (the kernel caps it at net.core.rmem_max)
DRAIN_MAX = 100_000  # datagrams taken at close, at most (more than a full receive buffer holds)
CREDENTIALS = getattr(socket, "SO_PASSCRED", None)  # Linux: each datagram says who sent it
UCRED = struct.Struct("iII")  # pid, uid, gid of SCM_CREDENTIALS


class TokenBucket:
    """`rate` events a second on average, up to `burst` at once; thread-safe."""

    def __init__(self, rate: float = RATE_LIMIT, burst: float = RATE_BURST,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class EventReceiver:
    """Takes event datagrams and hands each valid event to `handler`.

    `listen_local(path)` and `listen_udp(port, token)` open the channels; `start()` starts
    the thread.  `received`, `rejected` (malformed, wrong fields, or in a datagram over 64 KiB:
    `oversized` counts those datagrams), `rate_limited`, `refused_uid` and `refused_token` count."""

    def __init__(self, handler: Callable[[dict[str, Any]], None], limiter: TokenBucket | None = None,
                 on_notice: Callable[[str], None] | None = None) -> None:
        self._handler = handler
        self._on_notice = on_notice
        self.limiter = limiter or TokenBucket()
        self.kind_limits = {kind: TokenBucket(rate, burst) for kind, (rate, burst) in KIND_RATES.items()}
        self.path: str | None = None
        self.port: int | None = None
        self.token: str | None = None
        self.received = self.rejected = self.oversized = self.rate_limited = 0
        self.refused_uid = self.refused_token = self.restarts = 0
        self.last_failure: str | None = None
        self._flood_said = False
        self._uid = os.getuid()
        self._selector = selectors.DefaultSelector()
        self._sockets: list[socket.socket] = []
        self._stop = threading.Event()
        self._wake, self._waker = socket.socketpair()  # a byte on it ends the thread's wait at once (close)
        self._wake.setblocking(False)
        self._selector.register(self._wake, selectors.EVENT_READ, self._woken)
        self._thread = threading.Thread(target=self._run, name="rigscope-events", daemon=True)

    # -- channels --------------------------------------------------------------
    def listen_local(self, path: str) -> None:
        """Bind this user's socket at `path` (made 0600; its directory is the user's, 0700)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            if CREDENTIALS is not None:
                sock.setsockopt(socket.SOL_SOCKET, CREDENTIALS, 1)
            self._buffer(sock)
            sock.bind(path)
            os.chmod(path, 0o600)
        except OSError:
            sock.close()
            raise
        self.path = path
        self._add(sock, self._read_local)

    def listen_udp(self, port: int, token: str) -> int:
        """Bind UDP on 127.0.0.1:`port` (0: a free one) for datagrams that carry `token`."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._buffer(sock)
            sock.bind((HOST, port))
        except OSError:
            sock.close()
            raise
        self.port, self.token = sock.getsockname()[1], token
        self._add(sock, self._read_udp)
        return self.port

    @staticmethod
    def _buffer(sock: socket.socket) -> None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        except OSError:
            pass

    def _add(self, sock: socket.socket, read: Callable[[socket.socket], None]) -> None:
        sock.setblocking(False)
        self._sockets.append(sock)
        self._selector.register(sock, selectors.EVENT_READ, read)

    def start(self) -> None:
        self._thread.start()

    def stats(self) -> dict[str, Any]:
        """Counters for a status line, an endpoint and meta.json."""
        return {"socket": self.path, "udp_port": self.port, "received": self.received, "rejected": self.rejected,
                "oversized": self.oversized, "rate_limited": self.rate_limited, "refused_uid": self.refused_uid,
                "refused_token": self.refused_token, "restarts": self.restarts, "last_failure": self.last_failure}

    # -- taking events ------------------------------------------------------------
    def offer(self, event: dict[str, Any]) -> bool:
        """Hand one parsed event on unless a rate limit drops it (any thread: also HTTP POST /events)."""
        return self._admit() and self._admit_kind(event) and self._hand(event)

    def take_datagram(self, payload: bytes) -> bool:
        """Take one datagram (one event, or several a line); True when one of them asked for an ack."""
        if len(payload) > MAX_DATAGRAM:
            self.oversized += 1
            self.rejected += 1
            return False
        wants_ack = False
        for line in payload.split(SEPARATOR.encode()):
            if not line.strip() or not self._admit():  # the limit comes first: a flood costs little
                continue
            event = parse_event(line)
            if event is None:
                self.rejected += 1
                continue
            if not self._admit_kind(event):
                continue
            wants_ack = event.pop(ACK_FIELD, False) is True or wants_ack
            self._hand(event)
        return wants_ack

    def _admit(self) -> bool:
        if self.limiter.take():
            return True
        self.rate_limited += 1
        if not self._flood_said:
            self._flood_said = True
            self._say(f"event flood: more than {self.limiter.rate:,.0f} events/s; the excess is dropped and counted")
        return False

    def _admit_kind(self, event: dict[str, Any]) -> bool:
        bucket = self.kind_limits.get(event["kind"])
        if bucket is None or bucket.take():
            return True
        self.rate_limited += 1
        return False

    def _hand(self, event: dict[str, Any]) -> bool:
        try:
            self._handler(event)
        except Exception:  # noqa: BLE001 (a bad event never stops the receiver)
            self.rejected += 1
            return False
        self.received += 1
        return True

    def _say(self, message: str) -> None:
        if self._on_notice is not None:
            try:
                self._on_notice(message)
            except Exception:  # noqa: BLE001
                pass

    # -- the thread -----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._serve()
            except Exception as error:  # noqa: BLE001 (loud, then the loop starts again)
                self.restarts += 1
                self.last_failure = f"{type(error).__name__}: {error}"[:500]
                self._say(f"event receiver failed ({self.last_failure}); restarted ({self.restarts} so far)")
                self._stop.wait(min(1.0, 0.01 * self.restarts))

    def _serve(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(0.5):
                key.data(key.fileobj)

    def _read_local(self, sock: socket.socket) -> None:
        try:
            payload, ancillary, flags, sender = sock.recvmsg(MAX_DATAGRAM + 1, socket.CMSG_SPACE(UCRED.size))
        except (BlockingIOError, InterruptedError):
            return
        if CREDENTIALS is not None and self._sender_uid(ancillary) != self._uid:
            self.refused_uid += 1
            return
        self._take_and_ack(sock, payload, sender)

    @staticmethod
    def _sender_uid(ancillary: list[tuple[int, int, bytes]]) -> int | None:
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(data) >= UCRED.size:
                return int(UCRED.unpack_from(data)[1])
        return None

    def _read_udp(self, sock: socket.socket) -> None:
        try:
            payload, sender = sock.recvfrom(MAX_DATAGRAM + 1)
        except (BlockingIOError, InterruptedError, ConnectionRefusedError):
            return
        given, rest = split_token(payload)
        if self.token is None or given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            self.refused_token += 1
            return
        self._take_and_ack(sock, rest, sender)

    def _take_and_ack(self, sock: socket.socket, payload: bytes, sender: Any) -> None:
        if self.take_datagram(payload) and sender:
            try:
                sock.sendto(ACK, sender)
            except OSError:
                pass

    def close(self) -> None:
        """Stop taking events without losing one its sender was told it sent: the socket's name goes first
        (a sender then fails and keeps its event for the next recorder), the thread is woken and ends, the
        datagrams already queued are taken, then the sockets close. Once only."""
        if self._wake.fileno() < 0:
            return
        if self.path is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
        self._stop.set()
        try:
            self._waker.send(b"\0")
        except OSError:
            pass
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        if not self._thread.is_alive():  # a thread still in a handler (a full lossless queue) reads on its own
            for sock in self._sockets:
                self._drain(sock, self._selector.get_key(sock).data)
        self._selector.close()
        for sock in (*self._sockets, self._wake, self._waker):
            sock.close()

    def _woken(self, sock: socket.socket) -> None:
        try:
            sock.recv(64)
        except (BlockingIOError, InterruptedError):
            pass

    @staticmethod
    def _drain(sock: socket.socket, read: Callable[[socket.socket], None]) -> None:
        """Take what `sock` holds now (bounded: a sender that goes on flooding cannot keep the close waiting)."""
        for _ in range(DRAIN_MAX):
            if not select.select([sock], [], [], 0)[0]:
                return
            read(sock)


def send_event(path: str, event: dict[str, Any], timeout_s: float = 1.0) -> bool:
    """Send one event to the recorder socket at `path` and wait for its acknowledgement; False when none came."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.settimeout(timeout_s)
        try:
            sender.bind("")  # an automatic abstract address, for the reply
            sender.sendto(json.dumps(acked(event)).encode(), path)
            reply = sender.recv(16)
        except OSError:
            return False
    return reply == ACK
