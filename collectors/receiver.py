"""Receives events (notes, tags, probe events) as JSON datagrams on a loopback UDP port.

One datagram is one JSON object with a `kind`; `ts` (ISO 8601 UTC) is stamped
on arrival when the sender gave none.  A sender that sets `"ack": true` gets
`ok` back, so a command line tool can tell that the monitor took its event.
Malformed or oversized datagrams are counted and ignored.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from collectors.timeutil import iso_from_us

MAX_DATAGRAM = 64 * 1024
KINDS = frozenset({"note", "tag", "span_start", "span_end", "metric"})


def now_iso() -> str:
    return iso_from_us(time.time_ns() // 1000)


def parse_event(payload: bytes) -> dict[str, Any] | None:
    """The event in a datagram, or None when it is not a valid one."""
    try:
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(event, dict) or event.get("kind") not in KINDS:
        return None
    if not isinstance(event.get("ts"), str):
        event["ts"] = now_iso()
    return event


class EventReceiver:
    def __init__(self, handler: Callable[[dict[str, Any]], None], host: str = "127.0.0.1", port: int = 0) -> None:
        self._handler = handler
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind((host, port))
        self._socket.settimeout(0.5)
        self.port: int = self._socket.getsockname()[1]
        self.received = 0
        self.rejected = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rigscope-events", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                payload, sender = self._socket.recvfrom(MAX_DATAGRAM + 1)
            except TimeoutError:
                continue
            except OSError:
                return
            event = parse_event(payload) if len(payload) <= MAX_DATAGRAM else None
            if event is None:
                self.rejected += 1
                continue
            wants_ack = event.pop("ack", False) is True
            self.received += 1
            self._handler(event)
            if wants_ack:
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
