"""A viewer's end of the attach socket: finding this user's running recorder, connecting, reading its messages.

No Textual: the dashboard's attach source, `rigscope serve`, the tests and the
benchmark's headless viewers use the same client.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from recordings.errors import InputError
from recordings.inert import inert
from rigscope.local_channel import live_attach_points
from rigscope.serve import attach_protocol as protocol

CONNECT_TIMEOUT_S = 5.0


def find_attach_point(wanted: str | None) -> tuple[str, str]:
    """(session id, socket) of the running recorder `wanted` names (its id, an id prefix, a path, or
    None/latest: the newest); InputError when none of this user's recorders runs there."""
    running = live_attach_points()
    if not running:
        raise InputError("no running recorder to attach to (start one with: rigscope record)")
    if wanted in (None, "latest"):
        return running[0]
    name = Path(wanted).name
    exact = [point for point in running if point[0] == name]
    prefixed = exact or [point for point in running if point[0].startswith(name)]
    if not prefixed:
        names = ", ".join(inert(found) for found, _ in running)
        raise InputError(f"session {inert(wanted)} is not running (running: {names})")
    return prefixed[0]


class AttachClient:
    """Connected to a recorder's attach socket: `hello` read; `messages()` yields the rest until it ends."""

    def __init__(self, path: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sending = threading.Lock()
        try:
            self._sock.settimeout(timeout_s)
            self._sock.connect(path)
        except OSError as error:
            self._sock.close()
            raise InputError(f"cannot attach to {path}: {error.strerror or error}") from None
        try:
            self._sock.sendall(protocol.encode({"t": protocol.ATTACH, "version": protocol.VERSION}))
        except ConnectionError:  # it answered (a bye: it is full) and hung up before the ask landed; still to read
            pass
        self._reader = self._sock.makefile("rb")
        try:
            hello = protocol.decode(self._reader.readline(1 << 24))
        except (ConnectionError, TimeoutError):  # it hung up (ending) or never answered: said below
            hello = None
        if hello is None or hello.get("t") != protocol.HELLO:
            self._sock.close()
            why = hello.get("reason") if hello is not None and hello.get("t") == protocol.BYE else None
            raise InputError(f"cannot attach to {path}: "
                             + (inert(str(why)) if why else "the recorder did not say hello (it may be ending)"))
        self._sock.settimeout(None)
        self.hello: dict[str, Any] = hello
        self.said_bye = False

    def messages(self) -> Iterator[dict[str, Any]]:
        """The recorder's messages in order, until the connection ends (`said_bye` tells whether on purpose)."""
        while True:
            try:
                line = self._reader.readline()
            except (OSError, ValueError):  # reset by a dying recorder, or closed here (detach)
                return
            if not line:
                return
            message = protocol.decode(line)
            if message is None:
                continue
            if message["t"] == protocol.BYE:
                self.said_bye = True
            yield message

    def send(self, message: dict[str, Any]) -> bool:
        """One message to the recorder; False when it is gone."""
        data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        try:
            with self._sending:
                self._sock.sendall(data)
        except OSError:
            return False
        return True

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
