"""The probe: what an instrumented workload calls (`rigscope.span`, `tag`, `metric`, `note`).

Each call encodes one JSON event, stamped with the workload's wall clock (`ts`,
ISO 8601 UTC with µs and a Z, so that it lines up with the monitor's samples),
and appends it to an in-process queue: that is all the caller pays (about a
microsecond).  A small daemon thread, started on first use and woken by the
first event after a quiet spell, sends what is queued a couple of milliseconds
later as datagrams, several events a datagram, one JSON object a line, to a
recorder of this user on this machine: its Unix socket in the user's runtime
directory (rigscope.local_channel), the one of session `RIGSCOPE_SESSION` when
set, else the newest running.  Only when `RIGSCOPE_PROBE_UDP` names a port
(a recorder started with `--probe-udp`, reached from a container), the events go
as UDP to that port on 127.0.0.1, each datagram headed by the session's token
(`RIGSCOPE_TOKEN`).  `RIGSCOPE_PROBE=off` turns the probe off.  The probe never
blocks and never raises into the workload:

- the socket is non-blocking and connected, one per process; a forked child
  (e.g. a DataLoader worker) gets its own socket, queue and sender thread
  (`os.register_at_fork`); what is queued is sent at exit, also when a
  multiprocessing child ends;
- every error is swallowed and counted as a drop (`dropped()`): no recorder,
  a full queue (100,000 events waiting), an event over 64 KiB, an attribute
  that cannot be encoded; while the socket's buffer is full (a recorder reading
  slower than the workload sends), events wait in the queue;
- with no recorder running, events are dropped and counted, not spooled; the
  sender looks for a recorder again with the next datagram, so one that starts
  later gets what is sent after it started (and one that ends is left for the
  next newest).

Only the standard library is imported here, and `import rigscope` does not
import this module until a probe function is first used.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from json.encoder import c_make_encoder  # type: ignore[attr-defined]
from json.encoder import encode_basestring_ascii as _quote
from typing import Any, TypeVar

from rigscope.local_channel import find_recorder

OFF_ENV = "RIGSCOPE_PROBE"  # "off": send nothing
UDP_ENV = "RIGSCOPE_PROBE_UDP"  # a loopback UDP port: send there instead of the local socket
TOKEN_ENV = "RIGSCOPE_TOKEN"  # the session's token, which every UDP datagram must carry
HOST = "127.0.0.1"
MAX_DATAGRAM = 64 * 1024  # the monitor refuses larger ones (collectors.receiver.MAX_DATAGRAM)
MAX_ERROR_CHARS = 2000
BATCH_BYTES = 60_000  # events queued together go out in one datagram, one JSON object a line
MAX_QUEUED = 100_000  # events waiting to be sent; beyond it new ones are dropped (and counted)
GATHER_S = 0.002  # the sender, woken by an event, waits this long for more, then sends them together
IDLE_DELAY_S = 0.1  # and looks at the queue at least this often
SEND_BUFFER_BYTES = 1 << 20
EXIT_FLUSH_S = 0.25  # at exit, how long to wait for room in a full socket buffer

F = TypeVar("F", bound=Callable[..., Any])


def udp_target(environ: Any = None) -> tuple[int, str] | None:
    """(port, token) from `RIGSCOPE_PROBE_UDP` and `RIGSCOPE_TOKEN`; None when no port is set.
    ValueError when the port is not one."""
    env = os.environ if environ is None else environ
    text = env.get(UDP_ENV, "").strip()
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{UDP_ENV} must be a port number from 1 to 65535, not {text!r}")
    return int(text), env.get(TOKEN_ENV, "")


# -- sending: a queue in the caller, a small sender thread per process ---------------------
class _Off:
    """Stands for the socket when the probe is off (RIGSCOPE_PROBE=off, or a RIGSCOPE_PROBE_UDP that is no port)."""


_OFF: Any = _Off()
_sock: Any = None
_target: str | None = None  # the session id, or udp:PORT
_head = ""  # what starts each datagram: the token line over UDP
_sent = 0
_dropped = 0
_queue: deque[str] = deque()
_sender: threading.Thread | None = None
_wake = threading.Event()
_flush_lock = threading.Lock()
_exit_hook = False


def _send(text: str) -> None:
    """Queue one encoded event (the hot path: an append; the sender thread does the I/O)."""
    global _dropped
    if _sender is None:
        _start_sender()
    queue = _queue
    if not queue:
        _wake.set()  # the first event after the queue ran dry wakes the sender
    elif len(queue) >= MAX_QUEUED:
        _dropped += 1
        return
    queue.append(text)


def _start_sender() -> None:
    global _sender, _exit_hook
    with _flush_lock:
        if _sender is not None:
            return
        thread = threading.Thread(target=_run_sender, name="rigscope-probe", daemon=True)
        _sender = thread
    if not _exit_hook:
        _exit_hook = True
        try:  # runs at interpreter exit and when a multiprocessing child ends (before os._exit)
            threading._register_atexit(_flush_at_exit)  # type: ignore[attr-defined]
        except (AttributeError, RuntimeError):
            import atexit

            atexit.register(_flush_at_exit)
    try:
        thread.start()
    except RuntimeError:  # interpreter shutting down: events stay queued for the exit flush
        pass


def _run_sender() -> None:
    while True:
        _wake.wait(IDLE_DELAY_S)
        _wake.clear()
        while _queue:
            time.sleep(GATHER_S)  # let a batch gather: one datagram for many events
            flush()


def _open() -> Any:
    global _sock, _target, _head
    try:
        udp = udp_target()
        off = os.environ.get(OFF_ENV, "").strip().lower() == "off"
    except ValueError:  # a port that is none: off, as when asked
        udp, off = None, True
    if off:
        _sock, _target = _OFF, None
        return _OFF
    if udp is not None:
        family, address, target, head = socket.AF_INET, (HOST, udp[0]), f"udp:{udp[0]}", _encode({"token": udp[1]}) + "\n"
    else:
        found = find_recorder()
        if found is None:
            return None  # no recorder of this user now: dropped, and looked for again next time
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
    _sock, _target, _head = sock, target, head
    return sock


def _forget() -> None:
    """Drop the socket (its recorder ended): the next datagram looks for a recorder again."""
    global _sock, _target
    sock, _sock, _target = _sock, None, None
    if sock is not None and sock is not _OFF:
        try:
            sock.close()
        except OSError:
            pass


def flush(timeout_s: float = 0.0) -> None:
    """Send what is queued now (the sender thread does it every few ms; this is for exits and tests).

    While the socket's buffer is full (a monitor that reads slower than the workload sends), what is
    left stays queued for the next round; `timeout_s` waits up to that long for room instead."""
    deadline: float | None = None
    try:
        with _flush_lock:
            while _queue:
                if _send_batch(_next_batch()):
                    continue
                now = time.monotonic()
                deadline = now + timeout_s if deadline is None else deadline
                if now >= deadline:
                    return
                time.sleep(0.001)
    except Exception:  # noqa: BLE001 (never raise into the workload, not even at exit)
        pass


def _flush_at_exit() -> None:
    flush(EXIT_FLUSH_S)


def _next_batch() -> list[str]:
    batch: list[str] = []
    size = 0
    while _queue:
        text = _queue.popleft()
        if len(text) > MAX_DATAGRAM:  # ASCII: characters are bytes
            _count_drop()
            continue
        if batch and size + len(text) + 1 > BATCH_BYTES:
            _queue.appendleft(text)
            break
        batch.append(text)
        size += len(text) + 1
    return batch


def _send_batch(batch: list[str]) -> bool:
    """Send one datagram; False when the socket's buffer is full and the batch went back to the queue."""
    global _sent, _dropped
    if not batch:
        return True
    for _attempt in range(2):  # a recorder that ended is replaced by the next newest, once
        sock = _sock if _sock is not None else _open()
        if sock is None or sock is _OFF:
            break
        try:
            sock.send((_head + "\n".join(batch)).encode())
            # Over UDP on loopback a datagram nobody receives is refused at once: the pending error says so.
            refused = bool(_head) and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNREFUSED
        except BlockingIOError:
            _queue.extendleft(reversed(batch))
            return False
        except OSError:  # the recorder's socket is gone (ECONNREFUSED, ENOENT), or a refusal reported late
            refused = True
        if not refused:
            _sent += len(batch)
            return True
        if _head:
            break
        _forget()
    _dropped += len(batch)
    return True


def reset() -> None:
    """Forget the socket, the queue and the counters; the next event reads the settings again (tests)."""
    global _sent, _dropped
    with _flush_lock:
        _forget()
        _queue.clear()
        _sent = _dropped = 0


def _after_fork() -> None:
    """In a forked child: its own pid, socket, queue (the parent sends what it had queued) and sender."""
    global _pid, _sent, _dropped, _queue, _sender, _flush_lock, _wake
    _pid = os.getpid()
    _flush_lock = threading.Lock()
    _wake = threading.Event()
    _queue = deque()
    _sender = None
    _forget()
    _sent = _dropped = 0


def dropped() -> int:
    """Events this process could not hand to a monitor (none running, queue or buffer full, too big)."""
    return _dropped


def stats() -> dict[str, Any]:
    """`sent` (handed to the kernel), `dropped`, `queued`, and the `recorder` sent to: its session id,
    or `udp:PORT` (None before the first datagram, with no recorder, or when the probe is off)."""
    return {"sent": _sent, "dropped": _dropped, "queued": len(_queue), "recorder": _target}


# -- encoding ---------------------------------------------------------------------------
_second: tuple[int, str] = (-1, "")


def _now() -> str:
    """The wall clock as ISO 8601 UTC with µs and a Z; the part up to the second is cached."""
    global _second
    seconds, rest = divmod(time.time_ns(), 1_000_000_000)
    cached = _second
    if cached[0] != seconds:
        cached = _second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{cached[1]}.{rest // 1000:06d}Z"


def _plain(value: Any) -> Any:
    """A JSON stand-in for what json cannot encode: numpy and torch scalars by `.item()`, else str."""
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return item()
        except Exception:  # noqa: BLE001 (a tensor with many elements, ...)
            pass
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


if c_make_encoder is not None:  # the C encoder, built once (json.dumps builds one per call)
    _chunks = c_make_encoder(None, _plain, _quote, None, ":", ",", False, False, True)

    def _encode(value: Any) -> str:
        return "".join(_chunks(value, 0))

else:  # pragma: no cover (Python builds without the C accelerator)
    _encode = json.JSONEncoder(separators=(",", ":"), default=_plain, check_circular=False).encode


def _number(value: Any) -> str:
    number = float(value)
    if number - number == 0:  # finite
        return repr(number)
    return "NaN" if number != number else ("Infinity" if number > 0 else "-Infinity")


# -- spans ------------------------------------------------------------------------------
_pid = os.getpid()
_ids = itertools.count(1)
_current: ContextVar[Span | None] = ContextVar("rigscope_span", default=None)
os.register_at_fork(after_in_child=_after_fork)


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return text[:MAX_ERROR_CHARS]


class Span:
    """One timed piece of work.  `end()` sends it; only the first `end()` counts."""

    __slots__ = ("span_id", "name", "attrs", "parent_id", "start_ts", "ended", "_t0", "_attrs_json", "_token",
                 "_head", "_outer")

    def __init__(self, name: str, attrs: dict[str, Any], parent_id: str | None = None) -> None:
        self.span_id = span_id = f"{_pid}-{next(_ids)}"
        self.name = name
        self.attrs = attrs  # may be shared (a decorator's): `set` copies before changing it
        self.parent_id = parent_id
        self.ended = False
        self._token: Any = None
        self._outer: Span | None = None  # the span a re-entered `span` object had open before this one
        self._attrs_json: str | None = _encode(attrs)
        # What span_start and span_end share: id, name, parent.
        self._head = head = (f'"span_id":"{span_id}","name":{_quote(name)},'
                             f'"parent_id":{"null" if parent_id is None else _quote(parent_id)}')
        self._t0 = time.perf_counter_ns()
        self.start_ts = start = _now()
        _send(f'{{"kind":"span_start","ts":"{start}",{head},"attrs":{self._attrs_json}}}')

    def set(self, **attrs: Any) -> Span:
        """Add or change attributes (e.g. `tokens` or `audio_s` known only at the end); sent with the end."""
        self.attrs = {**self.attrs, **attrs}
        self._attrs_json = None
        return self

    def end(self, success: bool = True, error: str | BaseException | None = None, **attrs: Any) -> None:
        """Finish the span: `success`, an optional `error` (text or exception), and last attributes."""
        if self.ended:
            return
        self.ended = True
        try:
            duration_s = (time.perf_counter_ns() - self._t0) / 1e9
            if attrs:
                self.set(**attrs)
            if isinstance(error, BaseException):
                error = _describe(error)
            if error is not None:
                success = False
            attrs_json = self._attrs_json if self._attrs_json is not None else _encode(self.attrs)
            message = "null" if error is None else _quote(str(error)[:MAX_ERROR_CHARS])
            _send(f'{{"kind":"span_end","ts":"{_now()}",{self._head},"start_ts":"{self.start_ts}",'
                  f'"duration_s":{duration_s!r},"success":{"true" if success else "false"},"error":{message},'
                  f'"attrs":{attrs_json}}}')
        except Exception:  # noqa: BLE001 (never raise into the workload)
            _count_drop()

    def __repr__(self) -> str:
        return f"Span({self.name!r}, id={self.span_id}, ended={self.ended})"


def _count_drop() -> None:
    global _dropped
    _dropped += 1


class _NullSpan(Span):
    """What `start_span` returns when even building the span failed: `set` and `end` do nothing."""

    def __init__(self, name: str) -> None:  # noqa: D107 (no datagram)
        self.span_id, self.name, self.attrs, self.parent_id = "", name, {}, None
        self.ended, self._token, self._attrs_json, self._t0, self.start_ts, self._head = True, None, "{}", 0, "", ""
        self._outer = None


def start_span(name: str, **attrs: Any) -> Span:
    """Start a span by hand; finish it with `span.end(success=..., error=...)`.  Its parent is the
    span of the enclosing `with rigscope.span(...)`, if any."""
    return _start(str(name), attrs)


def _start(name: str, attrs: dict[str, Any]) -> Span:
    try:
        parent = _current.get()
        return Span(name, attrs, (parent.span_id or None) if parent is not None else None)
    except Exception:  # noqa: BLE001 (an attribute json cannot encode even as a string, ...)
        _count_drop()
        return _NullSpan(name)


class span:  # noqa: N801 (reads as a function: `with rigscope.span(...)`, `@rigscope.span(...)`)
    """A span as a context manager (`with rigscope.span("synthesis", tokens=150) as s:`) or a
    decorator (`@rigscope.span("load")`: one span per call).  An exception inside records
    `success=False` and its message, then propagates unchanged."""

    __slots__ = ("name", "attrs", "_open")

    def __init__(self, name: str, **attrs: Any) -> None:
        self.name = str(name)
        self.attrs = attrs
        self._open: Span | None = None

    def __enter__(self) -> Span:
        opened = _start(self.name, self.attrs)
        opened._token = _current.set(opened)
        opened._outer = self._open
        self._open = opened
        return opened

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> bool:
        try:
            closing = self._open
            if closing is None:
                return False
            self._open = closing._outer
            if closing._token is not None:
                try:
                    _current.reset(closing._token)
                except ValueError:  # exited in another context than it was entered in
                    pass
            if error is None:
                closing.end()
            else:
                closing.end(success=False, error=_describe(error))
        except Exception:  # noqa: BLE001
            _count_drop()
        return False

    def __call__(self, func: F) -> F:
        name, attrs = self.name, self.attrs
        if getattr(getattr(func, "__code__", None), "co_flags", 0) & 0x80:  # CO_COROUTINE: an async def

            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with span(name, **attrs):
                    return await func(*args, **kwargs)

            wrapper: Any = run_async
        else:

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                with span(name, **attrs):
                    return func(*args, **kwargs)

        for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
            try:
                setattr(wrapper, attribute, getattr(func, attribute))
            except AttributeError:
                pass
        wrapper.__wrapped__ = func
        return wrapper  # type: ignore[no-any-return]


# -- tags, metrics, notes ---------------------------------------------------------------
def tag(state: str) -> None:
    """Tag the workload phase from now on (`data_prep`, `train`, ...); `tag("auto")` returns to the heuristic."""
    try:
        _send(f'{{"kind":"tag","ts":"{_now()}","state":{_quote(str(state))},"source":"probe"}}')
    except Exception:  # noqa: BLE001
        _count_drop()


def metric(name: str, value: float, step: int | None = None) -> None:
    """Log a custom metric (`grad_norm`, `loss`, ...) with an optional step; NaN and infinities are kept."""
    try:
        tail = "" if step is None else f',"step":{int(step)}'
        _send(f'{{"kind":"metric","ts":"{_now()}","name":{_quote(str(name))},"value":{_number(value)}{tail}}}')
    except Exception:  # noqa: BLE001
        _count_drop()


def note(text: str, tags: list[str] | None = None) -> None:
    """Add a note to the running session."""
    try:
        tail = "" if not tags else f',"tags":{_encode([str(t) for t in tags])}'
        _send(f'{{"kind":"note","ts":"{_now()}","text":{_quote(str(text))},"source":"probe"{tail}}}')
    except Exception:  # noqa: BLE001
        _count_drop()


__all__ = ["OFF_ENV", "TOKEN_ENV", "UDP_ENV", "Span", "dropped", "flush", "metric", "note", "reset", "span",
           "start_span", "stats", "tag", "udp_target"]
