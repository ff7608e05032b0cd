"""A stream consumer's thread: a daemon running `_run`, started and joined by its owner.

The thread never dies silently: an exception that escapes `_run` is handed to
`on_failure` (the owner stops the recording with it), and whenever the thread
ends its queue is abandoned, so a lossless queue never holds the sampler on a
consumer that is gone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from collectors.stream import FrameQueue


class ConsumerThread:
    """Base of the threads that read the sampler's stream (`_run` sets `finished` when it ends)."""

    def __init__(self, name: str, frames: FrameQueue) -> None:
        self.finished = threading.Event()
        # A write of this consumer failed: (what was being written, the error); the owner stops the recording.
        self.on_failure: Callable[[str, BaseException], None] | None = None
        self._frames = frames
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def _main(self) -> None:
        try:
            self._run()
        except Exception as error:  # noqa: BLE001 (told to the owner, never a silent death)
            self._report_failure(self._thread.name, error)
        finally:
            self._frames.abandon()
            self.finished.set()

    def _report_failure(self, what: str, error: BaseException) -> None:
        if self.on_failure is not None:
            self.on_failure(what, error)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        """Whether its thread is still at work (after a join that timed out: held up in a call that hangs)."""
        return self._thread.is_alive()
