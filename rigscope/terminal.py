"""This process and its terminal: whether it can draw a dashboard (a capable terminal, or a browser for
rigscope serve), and what is written to it once it has gone (a hung-up terminal, a closed pipe)."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import stat
import sys
from collections.abc import Callable
from typing import Any, TextIO

from recordings.errors import InputError


def check_terminal() -> None:
    """InputError (one line) when stdout is not a terminal a dashboard can draw on."""
    if "web_driver" in os.environ.get("TEXTUAL_DRIVER", ""):  # rigscope serve: a browser is the terminal
        return
    term = os.environ.get("TERM", "")
    if term in ("", "dumb") or not sys.stdout.isatty():
        raise InputError(f"the dashboard needs a capable terminal (TERM={term or 'unset'}, "
                         f"{'a terminal' if sys.stdout.isatty() else 'output is not a terminal'}); "
                         "use 'rigscope record' to record without one")


def leave_terminal() -> None:
    """The terminal went away (ssh dropped, SIGHUP): what is written to it from now on goes nowhere, since a
    write to a hung-up terminal fails and the session must still close. A file or pipe the output was sent
    to stays."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (sys.stdout.fileno(), sys.stderr.fileno()):
        with contextlib.suppress(OSError):
            if stat.S_ISCHR(os.fstat(fd).st_mode):
                os.dup2(devnull, fd)
    os.close(devnull)


def tell(line: str) -> None:
    """One line of rigscope's own on stderr. When stderr has gone (`2>&1 | head` and head ended) the line and
    those after it go nowhere: a recording or a command under way must not end for want of a reader."""
    try:
        print(line, file=sys.stderr, flush=True)
    except BlockingIOError:  # a terminal set non-blocking by a program sharing it, full for now: not gone
        _flush_when_room(sys.stderr)
    except (OSError, ValueError):
        _lose(sys.stderr)


def _flush_when_room(stream: TextIO) -> None:
    room = select.poll()
    room.register(stream.fileno(), select.POLLOUT)
    while True:
        room.poll()
        try:
            stream.flush()
            return
        except BlockingIOError:
            continue
        except (OSError, ValueError):
            _lose(stream)
            return


def _lose(stream: TextIO) -> None:
    """`stream` writes to /dev/null from now on (a closed stream is left as it is)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
        stream.flush()  # what failed to go out goes to /dev/null now


def install_handlers(handlers: dict[signal.Signals, Callable[[int, Any], None]]) -> dict[signal.Signals, Any]:
    """Install `handlers`; the handlers they replace. A signal ignored when rigscope started (SIGHUP under nohup,
    SIGINT in a script's `cmd &`) stays ignored (for a command `run` starts too), as a shell leaves it."""
    return {sig: signal.signal(sig, handler) for sig, handler in handlers.items()
            if signal.getsignal(sig) is not signal.SIG_IGN}
