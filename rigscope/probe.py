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
(`RIGSCOPE_TOKEN`).  `RIGSCOPE_PROBE=off` turns the probe off; a setting it
cannot use is said once on stderr.  The probe never blocks and never raises into
the workload:

- the socket is non-blocking and connected, one per process; a forked child
  (e.g. a DataLoader worker) gets its own socket, queue and sender thread
  (`os.register_at_fork`), and a span it inherited open is its parent's to end;
  what is queued is sent at exit, also when a multiprocessing child ends, and
  what the workload's own exit handlers post is sent as they post it;
- a signal handler may post and flush, also while its thread is inside the probe;
- values the recorder would refuse are cleaned first (rigscope.probe_clean);
  every error is swallowed and counted as a drop (`dropped()`): no recorder,
  a full queue (100,000 events or 32 MiB waiting), an event over 64 KiB, a name
  whose `str()` fails, a metric's step that is no whole number, a blank tag or
  note; while the socket's buffer is full (a recorder reading slower than the
  workload sends), events wait in the queue;
- with no recorder running, events are dropped and counted, not spooled; the
  sender looks for a recorder again once the runtime folder changed (or a second
  passed), so one that starts later gets what is sent after it started (and one
  that ends is left for the next newest).

This module is the public API; the queue and sender are rigscope.probe_transport, the JSON texts
rigscope.probe_encoding, the cleaning rigscope.probe_clean, and the datagram format and limits
collectors.wire.  Only the standard library (and those small modules built on it) is imported, and
`import rigscope` does not import this module until a probe function is first used.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from contextvars import ContextVar
from time import perf_counter_ns
from types import CoroutineType
from typing import Any, Literal, TypeVar

from collectors.wire import ERROR_CAP, MAX_DATAGRAM, MAX_NAME, NOTE_CAP, cut, encodable
from rigscope import probe_clean as clean
from rigscope import probe_encoding as encoding
from rigscope.probe_encoding import describe as _describe
from rigscope.probe_encoding import encode as _encode
from rigscope.probe_encoding import now as _now
from rigscope.probe_transport import OFF_ENV, TOKEN_ENV, UDP_ENV, transport, udp_target

F = TypeVar("F", bound=Callable[..., Any])
# A span's attributes in JSON, what is left of a datagram after the rest of its end event at its largest
# (an escaped name and error, six bytes a character); beyond it their texts are cut to MAX_NAME characters.
ATTRS_BUDGET = MAX_DATAGRAM - 6 * (MAX_NAME + ERROR_CAP) - 1024
_send = transport.send  # the hot path; the transport is reset in place in a forked child
flush = transport.flush
reset = transport.reset


def dropped() -> int:
    """Events this process could not hand to a monitor (none running, queue or buffer full, too big)."""
    return transport.dropped


def stats() -> dict[str, Any]:
    """`sent` (handed to the kernel), `dropped`, `queued`, and the `recorder` sent to: its session id,
    or `udp:PORT` (None before the first datagram, with no recorder, or when the probe is off)."""
    return transport.stats()


def _attributes_json(attrs: dict[str, Any]) -> str:
    """A span's attributes as JSON text, within ATTRS_BUDGET where cutting their texts can do it."""
    encoded = _encode(clean.attributes(attrs))
    if len(encoded) > ATTRS_BUDGET:  # several long texts (six bytes a character in escapes): each cut shorter
        encoded = _encode(clean.attributes(attrs, MAX_NAME))
    return encoded


def _count_drop() -> None:
    transport.dropped += 1


def _identity() -> str:
    """`PID-R`: this process's pid, and a random part that tells apart two processes of one pid (two
    containers' workloads, each pid 1 in its own namespace; a pid used again)."""
    return f"{os.getpid()}-{os.urandom(3).hex()}"


def _after_fork() -> None:
    global _process
    _process = _identity()


# -- spans ------------------------------------------------------------------------------
_process = _identity()
_ids = itertools.count(1)
_current: ContextVar[Span | None] = ContextVar("rigscope_span", default=None)
os.register_at_fork(after_in_child=_after_fork)


class Span:
    """One timed piece of work.  `end()` sends it; only the first `end()` counts."""

    __slots__ = ("span_id", "name", "attrs", "parent_id", "start_ts", "ended", "_t0", "_attrs_json", "_head",
                 "_owner", "_outer", "_process")

    def __init__(self, name: str, attrs: dict[str, Any], parent_id: str | None = None) -> None:
        self._process = _process  # a forked child's copy of this span is its parent's to end, not the child's
        self.span_id = span_id = f"{_process}-{next(_ids)}"
        self.name = name
        self.attrs = attrs  # may be shared (a decorator's): `set` copies before changing it
        self.parent_id = parent_id
        self.ended = False
        self._owner: span | None = None  # the `span` object whose `with` block opened it
        self._outer: Span | None = None  # the context's current span before that block
        self._attrs_json: str | None = _attributes_json(attrs) if attrs else "{}"
        # What span_start and span_end share: id, name, parent.
        self._t0 = perf_counter_ns()
        self.start_ts = start = _now()
        self._head, text = encoding.span_start(start, span_id, name, parent_id, self._attrs_json)
        _send(text)

    def set(self, /, **attrs: Any) -> Span:
        """Add or change attributes (e.g. `tokens` or `audio_s` known only at the end); sent with the end."""
        self.attrs = {**self.attrs, **attrs}
        self._attrs_json = None
        return self

    def end(self, /, success: bool = True, error: str | BaseException | None = None, **attrs: Any) -> None:
        """Finish the span: `success`, an optional `error` (text or exception), and last attributes."""
        if self.ended:
            return
        self.ended = True
        if self._process is not _process:  # opened before a fork: the parent ends it (one span, not two)
            return
        try:
            duration_s = (perf_counter_ns() - self._t0) / 1e9
            if attrs:
                self.set(**attrs)
            if isinstance(error, BaseException):
                error = _describe(error)
            if error is not None:
                success = False
            attrs_json = self._attrs_json if self._attrs_json is not None else _attributes_json(self.attrs)
            _send(encoding.span_end(_now(), self._head, self.start_ts, duration_s, success,
                                    None if error is None else encodable(str(error)), attrs_json))
        except Exception:  # noqa: BLE001 (never raise into the workload)
            _count_drop()

    def __repr__(self) -> str:
        return f"Span({self.name!r}, id={self.span_id}, ended={self.ended})"


class _NullSpan(Span):
    """What `start_span` returns when even building the span failed: `set` and `end` do nothing."""

    def __init__(self, name: str) -> None:  # noqa: D107 (no datagram)
        self.span_id, self.name, self.attrs, self.parent_id = "", name, {}, None
        self.ended, self._attrs_json, self._t0, self.start_ts, self._head, self._process = True, "{}", 0, "", "", _process
        self._owner = self._outer = None


def start_span(name: Any, /, **attrs: Any) -> Span:
    """Start a span by hand; finish it with `span.end(success=..., error=...)`.  Its parent is the
    span of the enclosing `with rigscope.span(...)`, if any."""
    return _start(name, attrs)


def _start(name: Any, attrs: dict[str, Any]) -> Span:
    try:
        parent = _current.get()
        return Span(clean.name(name), attrs, (parent.span_id or None) if parent is not None else None)
    except Exception:  # noqa: BLE001 (a name whose str() raises, an attribute that cannot be encoded, ...)
        _count_drop()
        return _NullSpan("")


def _end(opened: Span, error: BaseException | None) -> None:
    """End a span that `error` (if any) left: failed, unless the exception ends the work without its
    failing (a generator closed by its consumer's `break`, `sys.exit(0)`)."""
    if error is None or isinstance(error, GeneratorExit) or (isinstance(error, SystemExit) and error.code in (0, None)):
        opened.end()
    else:
        opened.end(success=False, error=_describe(error))


async def _awaited(opened: Span, coroutine: CoroutineType[Any, Any, Any]) -> Any:
    """Await the coroutine a decorated plain function returned, inside its span, which ends with it."""
    token = _current.set(opened)
    try:
        result = await coroutine
    except BaseException as error:
        _end(opened, error)
        raise
    finally:
        _current.reset(token)
    opened.end()
    return result


class span:  # noqa: N801 (reads as a function: `with rigscope.span(...)`, `@rigscope.span(...)`)
    """A span as a context manager (`with rigscope.span("synthesis", tokens=150) as s:`) or a
    decorator (`@rigscope.span("load")`: one span per call).  An exception inside records
    `success=False` and its message, then propagates unchanged (a generator closed early and
    `sys.exit(0)` are no failures).  One object may be entered by several
    threads or tasks at once (or again inside its own block): each block ends the span it opened."""

    __slots__ = ("name", "attrs", "_opened")

    def __init__(self, name: Any, /, **attrs: Any) -> None:
        self.name = name  # made text when a span is opened, where a failing str() is caught
        self.attrs = attrs
        self._opened: list[Span] = []  # its spans not yet closed, in every context

    def __enter__(self) -> Span:
        opened = _start(self.name, self.attrs)
        opened._owner = self
        opened._outer = _current.get()
        _current.set(opened)
        self._opened.append(opened)
        return opened

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> Literal[False]:
        try:
            closing = _current.get()  # this context's innermost span of this object
            while closing is not None and closing._owner is not self:
                closing = closing._outer
            if closing is not None:
                _current.set(closing._outer)
            elif self._opened:  # exited in another context than it was entered in (an async fixture's teardown)
                closing = self._opened[-1]
            else:
                return False
            try:
                self._opened.remove(closing)
            except ValueError:  # closed already from another context
                pass
            _end(closing, error)
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
                opened = _start(name, attrs)
                token = _current.set(opened)
                try:
                    result = func(*args, **kwargs)
                except BaseException as error:
                    _end(opened, error)
                    raise
                finally:
                    _current.reset(token)
                if type(result) is CoroutineType:  # an async def behind a plain decorator (torch.inference_mode())
                    return _awaited(opened, result)
                opened.end()
                return result

        for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
            try:
                setattr(wrapper, attribute, getattr(func, attribute))
            except AttributeError:
                pass
        wrapper.__wrapped__ = func
        return wrapper


# -- tags, metrics, notes ---------------------------------------------------------------
def tag(state: str) -> None:
    """Tag the workload phase from now on (`data_prep`, `train`, ...); `tag("auto")` returns to the heuristic.
    A blank state names no phase: it is not sent, and counted as dropped."""
    try:
        state = clean.name(state)
        if state.strip():
            _send(encoding.tag(_now(), state))
            return
    except Exception:  # noqa: BLE001
        pass
    _count_drop()


def metric(name: str, value: float | None, step: int | None = None) -> None:
    """Log a custom metric (`grad_norm`, `loss`, ...) with an optional integer step; NaN and infinities
    are kept, None is sent as null.  A step that is no whole number (1.7) is not sent, and counted as dropped."""
    try:
        _send(encoding.metric(_now(), clean.name(name), value, None if step is None else clean.step(step)))
    except Exception:  # noqa: BLE001
        _count_drop()


def note(text: str, tags: list[str] | None = None) -> None:
    """Add a note to the running session.  A blank note says nothing: not sent, counted as dropped."""
    try:
        text = encodable(cut(str(text), NOTE_CAP))  # as the monitor cuts it: a long note still fits a datagram
        if text.strip():
            if isinstance(tags, str):  # one tag given as text: that tag, not its letters
                tags = [tags]
            _send(encoding.note(_now(), text, None if not tags else [clean.name(t) for t in tags]))
            return
    except Exception:  # noqa: BLE001
        pass
    _count_drop()


__all__ = ["OFF_ENV", "TOKEN_ENV", "UDP_ENV", "Span", "dropped", "flush", "metric", "note", "reset", "span",
           "start_span", "stats", "tag", "udp_target"]
