"""A session's notices (a lost GPU, a stalled reader, a receiver restarted) from whichever thread finds them.

The sampler, the event receiver, the span assembler and the process tier each run
in a thread of their own and `tell` the one `NoticeSink` of their session; it
keeps every notice in order (meta.json's `warnings`) and hands each to its
listeners (the session writer, the command line or the dashboard) outside its lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

Listener = Callable[[str], None]


class NoticeSink:
    def __init__(self, *listeners: Listener) -> None:
        self._lock = threading.Lock()
        self._messages: list[str] = []
        self._listeners: list[Listener] = list(listeners)

    def listen(self, listener: Listener) -> None:
        """Hand every later notice to `listener` too (the session writer, once it exists)."""
        with self._lock:
            self._listeners.append(listener)

    def tell(self, message: str) -> None:
        """Keep `message` and hand it to the listeners (any thread)."""
        with self._lock:
            self._messages.append(message)
            listeners = tuple(self._listeners)
        for listener in listeners:
            listener(message)

    def messages(self) -> list[str]:
        """Every notice so far, oldest first (a copy)."""
        with self._lock:
            return list(self._messages)

    def __iter__(self) -> Iterator[str]:
        return iter(self.messages())
