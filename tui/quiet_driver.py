"""Textual's Linux terminal driver with an input thread that sleeps until there is input.

Textual's input thread wakes ten times a second, key or no key, to finish an
escape sequence left half-typed (a lone Esc is a key only once nothing follows
it). Idle, those wakes were a tenth of a core-percent: about 5 % of the whole
dashboard's cost. This thread waits on the terminal with no timeout, and with
the parser's own deadline only while it holds half a sequence; stopping input
wakes it through a pipe. What it reads and posts is what Textual's thread would
(textual is pinned exactly, so its parser's state is read as it is).
"""

from __future__ import annotations

import os
import selectors
import threading
from codecs import getincrementaldecoder
from typing import Any

from textual._parser import Parser
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver


class _WakingEvent(threading.Event):
    """An Event whose `set` also writes a byte to a pipe, so a thread waiting in `select` sees it at once."""

    def __init__(self, wake_fd: int) -> None:
        super().__init__()
        self._wake_fd = wake_fd

    def set(self) -> None:
        super().set()
        if self._wake_fd < 0:  # the driver closed the pipe: nobody waits (and the number may be another file's now)
            return
        try:
            os.write(self._wake_fd, b"\0")
        except OSError:
            pass

    def forget_pipe(self) -> None:
        self._wake_fd = -1


def parser_timeout(parser: Parser[Any]) -> float | None:
    """How long `select` may wait: forever, unless the parser waits to know whether a sequence goes on."""
    deadline = parser._timeout_time
    return None if deadline is None else max(0.0, deadline - get_time())


class QuietLinuxDriver(LinuxDriver):
    """LinuxDriver whose input thread blocks until a key, a resize report or the end of input."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        self._waking = _WakingEvent(self._wake_write)
        self.exit_event = self._waking

    def run_input_thread(self) -> None:
        """Textual's loop (`LinuxDriver.run_input_thread`), with the wait above in place of its 0.1 s poll."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(self._wake_read, selectors.EVENT_READ)
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode

        def process(events: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> None:
            for key, mask in events:
                if key.fd == self._wake_read:
                    self._drain_wakes()
                elif mask & selectors.EVENT_READ:
                    data = decode(os.read(self.fileno, 1024 * 4), final=final)
                    if not data:
                        break  # stdin piped and at its end
                    for event in parser.feed(data):
                        self.process_message(event)
            for event in parser.tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process(selector.select(parser_timeout(parser)))
            selector.unregister(self._wake_read)
            self._drain_wakes()
            process(selector.select(0.1), final=True)  # what was typed as input stopped, as Textual does
        finally:
            selector.close()

    def _drain_wakes(self) -> None:
        try:
            while os.read(self._wake_read, 64):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        """Close the wake-up pipe once: a descriptor number closed twice, or written after closing, may by then
        be another file's (a session's journal)."""
        super().close()
        self._waking.forget_pipe()
        for fd in (self._wake_read, self._wake_write):
            if fd >= 0:
                os.close(fd)
        self._wake_read = self._wake_write = -1
