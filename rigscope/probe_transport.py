"""The probe's transport: a queue in the caller's process and a small sender thread that sends it.

`Transport.send` is the hot path (an append).  A daemon thread, started on first use and woken by
the first event after a quiet spell, sends what is queued a couple of milliseconds later as
datagrams, several events a datagram (collectors.wire), to a recorder of this user on this machine
(rigscope.local_channel) or, when `RIGSCOPE_PROBE_UDP` names a port, over UDP to 127.0.0.1 with the
session's token.  Every error is swallowed and counted as a drop; a forked child gets its own
socket, queue and sender (`after_fork`), and what is queued is sent at exit.
Only the standard library (and collectors.wire) is imported here.
"""

from __future__ import annotations

import atexit
import errno
import os
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from queue import Empty, SimpleQueue
from typing import Any

from collectors.wire import HOST, MAX_DATAGRAM, SEPARATOR, token_line
from rigscope.local_channel import SESSION_ENV, channel_dir, find_recorder, is_session_id

OFF_ENV = "RIGSCOPE_PROBE"  # "off": send nothing
OFF_VALUES = frozenset({"off", "0", "false", "no"})
ON_VALUES = frozenset({"", "on", "1", "true", "yes"})  # anything else is said, and the probe stays on
UDP_ENV = "RIGSCOPE_PROBE_UDP"  # a loopback UDP port: send there instead of the local socket
TOKEN_ENV = "RIGSCOPE_TOKEN"  # the session's token, which every UDP datagram must carry
BATCH_BYTES = 60_000  # events queued together go out in one datagram, one JSON object a line
MAX_QUEUED = 100_000  # events waiting to be sent; beyond it new ones are dropped (and counted)
MAX_QUEUED_BYTES = 32 << 20  # and their characters (bytes: the texts are ASCII), whatever their number
GATHER_S = 0.002  # the sender, woken by an event, waits this long for more, then sends them together
IDLE_DELAY_S = 0.1  # and looks at the queue at least this often
SEND_BUFFER_BYTES = 1 << 20
EXIT_FLUSH_S = 0.25  # at exit, how long to wait for room in a full socket buffer
LOOKUP_S = 1.0  # with no recorder, it is looked for again this often, or when the runtime folder changed
EVERY_THREAD = -1  # no thread ident: what every thread posts is sent as posted (no sender thread can start)


def udp_target(environ: Mapping[str, str] | None = None) -> tuple[int, str] | None:
    """(port, token) from `RIGSCOPE_PROBE_UDP` and `RIGSCOPE_TOKEN`; None when no port is set.
    ValueError when the port is not one."""
    env = os.environ if environ is None else environ
    text = env.get(UDP_ENV, "").strip()
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{UDP_ENV} must be a port number from 1 to 65535, not {text!r}")
    return int(text), env.get(TOKEN_ENV, "")


class _Off:
    """Stands for the socket when the probe is off (RIGSCOPE_PROBE=off, or a RIGSCOPE_PROBE_UDP that is no port)."""


_OFF: Any = _Off()


class Transport:
    """One per process: the queue, the socket (opened on the first datagram), the sender thread, counters."""

    def __init__(self) -> None:
        self._exit_hook = False
        self._said: set[str] = set()  # the settings' warnings, each said once a process (and its forks)
        self._fresh()

    def _fresh(self) -> None:
        self.sent = 0
        self.dropped = 0
        self._sock: Any = None
        self._target: str | None = None  # the session id, or udp:PORT
        self._no_recorder: tuple[float, int | None] | None = None  # when none was found, and the folder's mtime
        self._head = ""  # what starts each datagram: the token line over UDP
        self._queue: deque[str] = deque()
        self._queued_bytes = 0  # about (threads may race on it); set right whenever the queue runs dry
        self._sender: threading.Thread | None = None
        # Once the exit flush ran: the thread it ran on, where the atexit handlers run after it, whose posts
        # no sender would send before the interpreter ends; they are sent as posted (other threads' queue).
        self._exit_thread: int | None = None
        # Re-entrant (SimpleQueue.put is, threading.Event.set is not): a signal handler that posts while
        # the main thread's post is waking the sender must not wait on a lock that thread holds.
        self._wake: SimpleQueue[None] = SimpleQueue()
        # Re-entrant: a signal handler that posts or flushes may run while this thread holds it.
        self._lock = threading.RLock()
        self._flushing = False  # a flush inside a flush (that handler) leaves the sending to the outer one

    def send(self, text: str) -> None:
        """Queue one encoded event (the hot path: an append; the sender thread does the I/O)."""
        if self._sender is None:
            self._start_sender()
        queue = self._queue
        if not queue:
            self._wake.put(None)  # the first event after the queue ran dry wakes the sender
        elif len(queue) >= MAX_QUEUED or self._queued_bytes >= MAX_QUEUED_BYTES:
            self.dropped += 1
            return
        queue.append(text)
        self._queued_bytes += len(text)
        exit_thread = self._exit_thread
        if exit_thread is not None and exit_thread in (EVERY_THREAD, threading.get_ident()):
            self.flush()  # without waiting for room: the exit flush waited for it once already

    def _start_sender(self) -> None:
        with self._lock:
            if self._sender is not None:
                return
            thread = threading.Thread(target=self._run_sender, name="rigscope-probe", daemon=True)
            self._sender = thread
        if not self._exit_hook:
            self._exit_hook = True
            # After the threads are joined: what threads that outlived the main thread queued last.
            atexit.register(self._flush_at_exit)
            try:  # before they are joined, also when a multiprocessing child ends (before os._exit)
                threading._register_atexit(self._flush_at_exit)  # type: ignore[attr-defined]  # not in typeshed
            except RuntimeError:  # already exiting (a first event from an atexit handler): that flush is past
                self._exit_thread = threading.get_ident()
        try:
            thread.start()
        except RuntimeError:  # interpreter shutting down: no sender
            self._exit_thread = EVERY_THREAD

    def _run_sender(self) -> None:
        while True:
            try:
                self._wake.get(timeout=IDLE_DELAY_S)
            except Empty:
                pass
            pause = GATHER_S  # let a batch gather: one datagram for many events
            while self._queue:
                time.sleep(pause)
                sent = self.sent
                self.flush()
                # No room in the socket (a recorder stopped with Ctrl-Z): try less often, up to IDLE_DELAY_S.
                pause = GATHER_S if self.sent != sent or not self._queue else min(2 * pause, IDLE_DELAY_S)

    def _settings(self) -> tuple[bool, tuple[int, str] | None]:
        """(off, the UDP port and token) from the environment; a bad value is said once on stderr."""
        setting = os.environ.get(OFF_ENV, "")
        if setting.strip().lower() in OFF_VALUES:
            return True, None
        if setting.strip().lower() not in ON_VALUES:
            self._say(f"{OFF_ENV}={setting!r} is neither off nor on: the probe stays on")
        try:
            udp = udp_target()
        except ValueError as error:  # a port that is none: off, as when asked
            self._say(f"{error}: the probe is off")
            return True, None
        if udp is not None and not udp[1]:
            self._say(f"{UDP_ENV} is set without {TOKEN_ENV}: the recorder refuses every event")
        session = os.environ.get(SESSION_ENV, "")
        if udp is None and session and not is_session_id(session):
            self._say(f"{SESSION_ENV}={session!r} is no session id: no recorder will take the events")
        return False, udp

    def _say(self, message: str) -> None:
        if message in self._said:
            return
        self._said.add(message)
        try:
            sys.stderr.write(f"rigscope probe: {message}\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 (no stderr, a closed one: the workload goes on)
            pass

    def _open(self) -> Any:
        off, udp = self._settings()
        if off:
            self._sock, self._target = _OFF, None
            return _OFF
        address: str | tuple[str, int]
        if udp is not None:
            family, address, target, head = socket.AF_INET, (HOST, udp[0]), f"udp:{udp[0]}", token_line(udp[1])
        else:
            found = self._find()
            if found is None:
                return None  # no recorder of this user now: dropped, and looked for again later
            family, (target, address), head = socket.AF_UNIX, found, ""
        try:
            sock = socket.socket(family, socket.SOCK_DGRAM)
        except OSError:
            return None  # e.g. out of file descriptors: try again with the next datagram
        try:
            sock.setblocking(False)
            try:  # room for bursts (the kernel caps it at net.core.wmem_max)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
            except OSError:
                pass
            sock.connect(address)
        except OSError:  # the recorder just ended: try again with the next datagram
            sock.close()
            return None
        self._sock, self._target, self._head = sock, target, head
        return sock

    def _find(self) -> tuple[str, str] | None:
        """The recorder to send to.  After none was found, the runtime folder is searched again (a
        listing, and a connect to each socket a dead recorder left) only once it changed (a recorder
        made its socket) or LOOKUP_S passed: a stat per datagram, not a search."""
        stamp = _folder_stamp()
        if self._no_recorder is not None:
            since, before = self._no_recorder
            if stamp == before and time.monotonic() - since < LOOKUP_S:
                return None
        found = find_recorder()
        self._no_recorder = None if found is not None else (time.monotonic(), stamp)
        return found

    def _forget(self) -> None:
        """Drop the socket (its recorder ended): the next datagram looks for a recorder again."""
        sock, self._sock, self._target = self._sock, None, None
        if sock is not None and sock is not _OFF:
            try:
                sock.close()
            except OSError:
                pass

    def flush(self, timeout_s: float = 0.0) -> None:
        """Send what is queued now; while the socket's buffer is full, wait up to `timeout_s` for room."""
        deadline: float | None = None
        try:
            with self._lock:
                if self._flushing:
                    return
                self._flushing = True
                try:
                    while self._queue:
                        if self._send_batch(self._next_batch()):
                            continue
                        now = time.monotonic()
                        deadline = now + timeout_s if deadline is None else deadline
                        if now >= deadline:
                            return
                        time.sleep(0.001)
                finally:
                    self._flushing = False
        except Exception:  # noqa: BLE001 (never raise into the workload, not even at exit)
            pass

    def _flush_at_exit(self) -> None:
        if self._exit_thread is None:
            self._exit_thread = threading.get_ident()
        self.flush(EXIT_FLUSH_S)

    def _next_batch(self) -> list[str]:
        queue = self._queue
        batch: list[str] = []
        size = taken = 0
        while queue:
            text = queue.popleft()
            taken += len(text)
            if len(text) > MAX_DATAGRAM:  # ASCII: characters are bytes
                self.dropped += 1
                continue
            if batch and size + len(text) + 1 > BATCH_BYTES:
                queue.appendleft(text)
                taken -= len(text)
                break
            batch.append(text)
            size += len(text) + 1
        self._queued_bytes = self._queued_bytes - taken if queue else 0
        return batch

    def _send_batch(self, batch: list[str]) -> bool:
        """Send one datagram; False when the socket's buffer is full and the batch went back to the queue."""
        if not batch:
            return True
        for _attempt in range(2):  # a recorder that ended is replaced by the next newest, once
            sock = self._sock if self._sock is not None else self._open()
            if sock is None or sock is _OFF:
                break
            head = self._head
            try:
                sock.send((head + SEPARATOR.join(batch)).encode())
                # Over UDP on loopback a datagram nobody receives is refused at once: the pending error says so.
                refused = bool(head) and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNREFUSED
            except BlockingIOError:
                self._queue.extendleft(reversed(batch))
                self._queued_bytes += sum(map(len, batch))
                return False
            except OSError:  # the recorder's socket is gone (ECONNREFUSED, ENOENT), or a refusal reported late
                refused = True
            if not refused:
                self.sent += len(batch)
                return True
            if head:
                break
            self._forget()
        self.dropped += len(batch)
        return True

    def reset(self) -> None:
        """Forget the socket, the queue and the counters; the next event reads the settings again (tests)."""
        with self._lock:
            self._forget()
            self._queue.clear()
            self._queued_bytes = 0
            self._no_recorder = None
            self._said.clear()
            self.sent = self.dropped = 0

    def after_fork(self) -> None:
        """In a forked child: its own socket, queue, lock and sender (the parent sends what it had queued)."""
        self._forget()  # closes the child's copy of the parent's socket only
        self._fresh()

    def stats(self) -> dict[str, Any]:
        """`sent` (handed to the kernel), `dropped`, `queued`, and the `recorder` sent to: its session id,
        or `udp:PORT` (None before the first datagram, with no recorder, or when the probe is off)."""
        return {"sent": self.sent, "dropped": self.dropped, "queued": len(self._queue), "recorder": self._target}


def _folder_stamp() -> int | None:
    """The runtime folder's mtime (a socket made or removed there changes it); None when there is none."""
    try:
        return os.stat(channel_dir()).st_mtime_ns
    except OSError:
        return None


transport = Transport()  # this process's; a forked child resets it in place
os.register_at_fork(after_in_child=transport.after_fork)
