"""Bounded HTTP serving: one selector thread holds every connection until a whole request has arrived,
a few worker threads answer it.

No number of slow or half-open clients can take more than `max_connections` file descriptors or
hold a thread. At the cap a new connection takes the place of the oldest one waiting for its
request (so a scraper that sends its request at once is still served while slow clients flood the
port); when every connection is being answered, the new one is closed at once. Either closing is
counted in `refused`. Deadlines: a request head
must arrive within HEADER_TIMEOUT_S of the connection, its body (at most `max_body` bytes) within
BODY_TIMEOUT_S after the head, the next request on a kept-alive connection within KEEPALIVE_TIMEOUT_S
of the last reply, and a reply must be taken within WRITE_TIMEOUT_S; otherwise the connection is closed
and counted in `timed_out`. A handler reads its request from memory, so it never waits on a client.
"""

from __future__ import annotations

import errno
import os
import queue
import re
import resource
import selectors
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

HEADER_TIMEOUT_S = 2.0
BODY_TIMEOUT_S = 2.0
KEEPALIVE_TIMEOUT_S = 5.0
WRITE_TIMEOUT_S = 5.0
MAX_HEAD = 64 * 1024
WORKERS = 4
CONNECTIONS_CAP = 256
EXPIRY_EVERY_S = 0.05  # how often the loop looks for connections past their deadline
ACCEPT_PAUSE_S = 0.1  # after EMFILE on accept: the listener is left alone this long instead of spinning
ACCEPT_BURST = 16  # accepted connections between two selects, so one flood never holds the loop

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(\d{1,12})[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
_EXPECT_CONTINUE = re.compile(rb"^expect[ \t]*:[ \t]*100-continue[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_HEAD_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\n"
                   b"Content-Length: 0\r\nConnection: close\r\n\r\n")


def default_max_connections() -> int:
    """A cap well under the process's file descriptor limit, so the sampler and recorder always have some."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return CONNECTIONS_CAP
    return max(4, min(CONNECTIONS_CAP, soft // 4))


class RequestHandler(Protocol):
    close_connection: bool
    wfile: SocketWriter

    def __init__(self, sock: socket.socket, address: Any, server: Any, request: bytes) -> None: ...


class SocketWriter:
    """The `wfile` of a handler: every write goes out whole within the socket's timeout, or marks `timed_out`."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.timed_out = False  # http.server swallows the TimeoutError: the server reads this instead

    def write(self, data: bytes) -> int:
        try:
            self._sock.sendall(data)
        except TimeoutError:
            self.timed_out = True
            raise
        return len(data)

    def flush(self) -> None:
        pass


@dataclass(eq=False)
class _Connection:
    sock: socket.socket
    address: Any
    deadline: float
    buffer: bytearray = field(default_factory=bytearray)
    need: int | None = None  # bytes of the whole request, once its head is in
    continued: bool = False  # "100 Continue" sent for this request
    busy: bool = False  # with a worker


class BoundedHTTPServer:
    """Listens on `address`; `serve_forever` in one thread, `shutdown` and `server_close` from another."""

    address_family = socket.AF_INET

    def __init__(self, address: tuple[str, int], handler: type[RequestHandler], max_body: int,
                 max_connections: int | None = None, backlog: int = 128) -> None:
        self.handler, self.max_body = handler, max_body
        self.max_connections = max_connections or default_max_connections()
        self.refused = 0
        self.timed_out = 0
        self.listener = socket.socket(self.address_family, socket.SOCK_STREAM)
        try:
            # A restarted monitor (the dashboard's record toggle) takes its port back at once.
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.listener.bind(address)
            self.listener.listen(backlog)
            self.listener.setblocking(False)
        except BaseException:
            self.listener.close()
            raise
        self.server_address = self.listener.getsockname()
        self.server_port = int(self.server_address[1])
        self._connections: dict[_Connection, None] = {}  # oldest first
        self._answered: queue.SimpleQueue[tuple[_Connection, bool, bool]] = queue.SimpleQueue()  # keep, timed out
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self.listener, selectors.EVENT_READ, "listener")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._accept_paused_until: float | None = None
        self._next_expiry = 0.0
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="rigscope-http-worker")
        self._stop = threading.Event()
        self._stopped = threading.Event()

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    def handle_error(self) -> None:
        """A handler raised: subclasses count it (never a traceback on the dashboard's terminal)."""

    # -- the loop thread -------------------------------------------------------
    def serve_forever(self, poll_interval: float = 0.1) -> None:
        try:
            while not self._stop.is_set():
                for key, _ in self._selector.select(poll_interval):
                    self._dispatch(key.data)
                self._expire(time.monotonic())
        finally:
            self._stopped.set()

    def _dispatch(self, what: Any) -> None:
        try:
            if what == "listener":
                self._accept()
            elif what == "wake":
                self._take_answered()
            else:
                self._receive(what)
        except Exception:  # noqa: BLE001 (the loop serves every other connection on)
            self.handle_error()
            if isinstance(what, _Connection):
                self._close(what)

    def _accept(self) -> None:
        for _ in range(ACCEPT_BURST):
            try:
                sock, address = self.listener.accept()
            except BlockingIOError:
                return
            except OSError as error:
                if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    self._selector.unregister(self.listener)
                    self._accept_paused_until = time.monotonic() + ACCEPT_PAUSE_S
                return  # ECONNABORTED and the like: that client is gone
            if len(self._connections) >= self.max_connections:
                self.refused += 1
                oldest = next((c for c in self._connections if not c.busy), None)
                if oldest is None:
                    sock.close()
                    continue
                self._close(oldest)
            sock.setblocking(False)
            connection = _Connection(sock, address, time.monotonic() + HEADER_TIMEOUT_S)
            self._connections[connection] = None
            self._selector.register(sock, selectors.EVENT_READ, connection)

    def _receive(self, connection: _Connection) -> None:
        try:
            data = connection.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._close(connection)
            return
        connection.buffer += data
        self._advance(connection)

    def _advance(self, connection: _Connection) -> None:
        """Hand the connection to a worker once its buffer holds a whole request."""
        buffer = connection.buffer
        if connection.need is None:
            end = _HEAD_END.search(buffer)
            if end is None:
                if len(buffer) > MAX_HEAD:
                    self._refuse_head(connection)
                return
            head = bytes(buffer[:end.end()])
            length = _CONTENT_LENGTH.search(head)
            body = int(length.group(1)) if length else 0
            # A body over the limit is not waited for: the handler answers 413 from the head alone.
            connection.need = end.end() + (body if body <= self.max_body else 0)
            connection.deadline = time.monotonic() + BODY_TIMEOUT_S
            if len(buffer) < connection.need and _EXPECT_CONTINUE.search(head):
                self._send_continue(connection)
        if len(buffer) >= connection.need:
            request = bytes(buffer[:connection.need])
            del buffer[:connection.need]
            connection.need, connection.continued = None, False
            self._selector.unregister(connection.sock)
            connection.busy = True
            connection.sock.settimeout(WRITE_TIMEOUT_S)
            self._pool.submit(self._answer, connection, request)

    def _send_continue(self, connection: _Connection) -> None:
        try:
            connection.sock.send(_CONTINUE)
            connection.continued = True
        except OSError:
            pass  # the client will send its body after its own wait, or go away

    def _refuse_head(self, connection: _Connection) -> None:
        try:
            connection.sock.send(_HEAD_TOO_LARGE)
        except OSError:
            pass
        self._close(connection)

    def _take_answered(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                connection, keep, timed_out = self._answered.get_nowait()
            except queue.Empty:
                return
            self.timed_out += timed_out
            connection.busy = False
            if not keep or self._stop.is_set():
                self._close(connection)
                continue
            connection.sock.setblocking(False)
            connection.deadline = time.monotonic() + KEEPALIVE_TIMEOUT_S
            self._selector.register(connection.sock, selectors.EVENT_READ, connection)
            self._advance(connection)  # a pipelined request may be in already

    def _expire(self, now: float) -> None:
        if now < self._next_expiry:
            return
        self._next_expiry = now + EXPIRY_EVERY_S
        if self._accept_paused_until is not None and now >= self._accept_paused_until:
            self._accept_paused_until = None
            self._selector.register(self.listener, selectors.EVENT_READ, "listener")
        waiting = [key.data for key in self._selector.get_map().values() if isinstance(key.data, _Connection)]
        for connection in waiting:
            if now >= connection.deadline:
                self.timed_out += 1
                self._close(connection)

    def _close(self, connection: _Connection) -> None:
        if connection in self._connections:
            del self._connections[connection]
            try:
                self._selector.unregister(connection.sock)
            except (KeyError, ValueError):
                pass  # it was with a worker
            connection.sock.close()

    # -- worker threads ----------------------------------------------------------
    def _answer(self, connection: _Connection, request: bytes) -> None:
        keep = timed_out = False
        try:
            handler = self.handler(connection.sock, connection.address, self, request)
            keep, timed_out = not handler.close_connection, handler.wfile.timed_out
        except TimeoutError:
            timed_out = True  # the client did not take its reply
        except OSError:
            pass  # the client went away mid-reply
        except Exception:  # noqa: BLE001 (one failing request never stops the server)
            self.handle_error()
        self._answered.put((connection, keep, timed_out))
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass  # the pipe is full: the loop is being woken already, or closed

    # -- any thread ------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop `serve_forever` and wait for it to return."""
        self._stop.set()
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        self._stopped.wait(5.0)

    def server_close(self) -> None:
        """Close the listener and every connection; wait for the workers (a reply in flight is cut)."""
        for connection in list(self._connections):
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)  # wakes a worker blocked in sendall
            except OSError:
                pass
        self._pool.shutdown(wait=True, cancel_futures=True)
        for connection in list(self._connections):
            self._close(connection)
        self._selector.close()
        self.listener.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
