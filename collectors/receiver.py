"""Receives events (notes, tags, probe events) as JSON datagrams on a loopback UDP port.

One datagram holds one JSON object with a `kind`, or several, one a line (the
probe batches them).  `ts` (ISO 8601 UTC) is stamped on arrival when the sender
gave none; a number is taken as seconds since the Unix epoch.  A sender that
sets `"ack": true` gets `ok` back, so a command line tool can tell that the
monitor took its event.  Malformed events and datagrams over 64 KiB are counted
and ignored; floods are cut by a token bucket (20,000 events/s, bursts of
20,000) and what it drops is counted.  The well-known port is 47321
(`RIGSCOPE_PORT` overrides it); when another monitor holds it, the receiver
takes a free port and says so in `notice`.
"""

from __future__ import annotations

import errno
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from collectors.timeutil import iso_from_us, us_from_iso

MAX_DATAGRAM = 64 * 1024
KINDS = frozenset({"note", "tag", "span_start", "span_end", "metric"})
# Fields an event of each kind must have, as strings (a span's id and name, a tag's state, ...).
REQUIRED = {"note": ("text",), "tag": ("state",), "span_start": ("span_id", "name"),
            "span_end": ("span_id", "name"), "metric": ("name",)}
RATE_LIMIT = 20_000.0  # events per second, sustained
RATE_BURST = 20_000.0  # events accepted at once after a quiet spell
RECEIVE_BUFFER_BYTES = 4 << 20  # room for bursts (the kernel caps it at net.core.rmem_max)


def now_iso() -> str:
    return iso_from_us(time.time_ns() // 1000)


def parse_event(payload: bytes | str) -> dict[str, Any] | None:
    """The event in one JSON text, or None when it is not a valid one."""
    try:
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(event, dict) or event.get("kind") not in KINDS:
        return None
    if any(not isinstance(event.get(name), str) for name in REQUIRED[event["kind"]]):
        return None
    if event["kind"] == "metric" and not (event.get("value") is None or _is_number(event["value"])):
        return None
    ts = event.get("ts")
    if ts is None:
        event["ts"] = now_iso()
    elif _is_number(ts):
        event["ts"] = iso_from_us(round(ts * 1e6))
    elif not _valid_ts(ts):
        return None
    return event


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _valid_ts(ts: Any) -> bool:
    if not isinstance(ts, str):
        return False
    try:
        us_from_iso(ts)
    except (ValueError, OverflowError):
        return False
    return True


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
    """A thread that takes event datagrams on `host:port` and hands each valid event to `handler`.

    `port=0` takes a free port.  With `fallback`, a port another process holds is given up for a
    free one, and `notice` says so.  `received`, `rejected` (malformed, wrong fields, or in a
    datagram over 64 KiB: `oversized` counts those datagrams) and `rate_limited` count events."""

    def __init__(self, handler: Callable[[dict[str, Any]], None], host: str = "127.0.0.1", port: int = 0,
                 fallback: bool = False, limiter: TokenBucket | None = None,
                 on_notice: Callable[[str], None] | None = None) -> None:
        self._handler = handler
        self._on_notice = on_notice
        self.limiter = limiter or TokenBucket()
        self.requested_port = port
        self.notice: str | None = None
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        except OSError:
            pass
        try:
            self._socket.bind((host, port))
        except OSError as error:
            if not (fallback and port and error.errno == errno.EADDRINUSE):
                self._socket.close()
                raise
            self._socket.bind((host, 0))
            self.notice = (f"event port {port} is taken (another rigscope running?): probes that use it "
                           f"reach that one; this session listens on port {self._socket.getsockname()[1]}")
        self._socket.settimeout(0.5)
        self.port: int = self._socket.getsockname()[1]
        self.received = 0
        self.rejected = 0
        self.oversized = 0
        self.rate_limited = 0
        self._flood_said = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rigscope-events", daemon=True)
        self._thread.start()

    def stats(self) -> dict[str, Any]:
        """Counters for a status line or an endpoint."""
        return {"port": self.port, "received": self.received, "rejected": self.rejected,
                "oversized": self.oversized, "rate_limited": self.rate_limited}

    def offer(self, event: dict[str, Any]) -> bool:
        """Hand one parsed event on unless the rate limit drops it (any thread: also HTTP POST /events)."""
        return self._admit() and self._hand(event)

    def take_datagram(self, payload: bytes) -> bool:
        """Take one datagram (one event, or several a line); True when one of them asked for an ack."""
        if len(payload) > MAX_DATAGRAM:
            self.oversized += 1
            self.rejected += 1
            return False
        wants_ack = False
        for line in payload.split(b"\n"):
            if not line.strip() or not self._admit():  # the limit comes first: a flood costs little
                continue
            event = parse_event(line)
            if event is None:
                self.rejected += 1
                continue
            wants_ack = event.pop("ack", False) is True or wants_ack
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

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                payload, sender = self._socket.recvfrom(MAX_DATAGRAM + 1)
            except TimeoutError:
                continue
            except OSError:
                return
            if self.take_datagram(payload):
                try:
                    self._socket.sendto(b"ok", sender)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._socket.close()


def send_event(port: int, event: dict[str, Any], host: str = "127.0.0.1", timeout_s: float = 1.0) -> bool:
    """Send one event and wait for the monitor's acknowledgement; False when none came."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.settimeout(timeout_s)
        try:
            sender.sendto(json.dumps({**event, "ack": True}).encode(), (host, port))
            reply, _ = sender.recvfrom(16)
        except OSError:
            return False
    return reply == b"ok"
