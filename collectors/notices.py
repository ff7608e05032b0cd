"""A session's notices (a lost GPU, a stalled reader, a receiver restarted) from whichever thread finds them.

The sampler, the event receiver, the span assembler and the process tier each run
in a thread of their own and `tell` the one `NoticeSink` of their session; it
keeps every notice in order (meta.json's `warnings`) and hands each to its
listeners (the session writer, the command line or the dashboard) outside its lock.
"""

from __future__ import annotations

import re
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


_GPU = re.compile(r"\bgpu(\d+)\b")


def fold_by_gpu(notices: list[str]) -> list[str]:
    """Notices that differ only in the GPU they name, as one naming them all (`gpu0-gpu7`, `gpu1,gpu3`), in the
    order they first came: an 8-GPU box without fans says so once, not eight times."""
    groups: dict[str, list[int]] = {}
    for notice in notices:
        found = _GPU.search(notice)
        key = notice if found is None else f"{notice[:found.start()]}\0{notice[found.end():]}"
        groups.setdefault(key, []).extend(() if found is None else (int(found.group(1)),))
    return [key.replace("\0", _gpu_list(indices)) for key, indices in groups.items()]


def _gpu_list(indices: list[int]) -> str:
    """`gpu0-gpu3,gpu6`: three or more consecutive indices as a range."""
    runs: list[list[int]] = []
    for index in sorted(set(indices)):
        if runs and index == runs[-1][-1] + 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return ",".join(f"gpu{run[0]}-gpu{run[-1]}" if len(run) > 2 else ",".join(f"gpu{i}" for i in run) for run in runs)
