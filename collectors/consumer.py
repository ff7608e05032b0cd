"""A stream consumer's thread: a daemon running `_run`, started and joined by its owner."""

from __future__ import annotations

import threading


class ConsumerThread:
    """Base of the threads that read the sampler's stream (`_run` sets `finished` when it ends)."""

    def __init__(self, name: str) -> None:
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)
