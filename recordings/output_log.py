"""`output.log`: what a `rigscope run` command wrote to stdout and stderr, in arrival order, capped in size.

Once the cap is reached the rest is counted, not saved, and one closing line says so; the
same figures go in meta.json (`run.output_log`). A write that fails (a full disk) ends the saving,
never the relay of the command's output: the reason goes to `error` and, once, to `on_error`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

OUTPUT_LOG = "output.log"
DEFAULT_CAP_BYTES = 10 * 1024 * 1024
_MAX_PARTIAL = 65536  # a line longer than this goes in unfinished


class OutputLog:
    """A byte sink shared by the stdout and stderr relays (thread-safe)."""

    def __init__(self, session: Path, cap_bytes: int = DEFAULT_CAP_BYTES,
                 on_error: Callable[[str], None] | None = None) -> None:
        self.cap_bytes = cap_bytes
        self.bytes_written = 0
        self.bytes_seen = 0
        self.error: str | None = None  # why saving stopped before the end (e.g. "No space left on device")
        self._on_error = on_error
        self._lock = threading.Lock()
        self._pending: dict[str, bytes] = {}  # per stream: the start of a line not yet complete
        self._handle: IO[bytes] | None = None  # None once closed, or once saving failed
        try:
            self._handle = open(session / OUTPUT_LOG, "wb")  # noqa: SIM115 (kept open while the command runs)
        except OSError as error:
            self._fail(error)

    @property
    def truncated(self) -> bool:
        return self.bytes_seen > self.bytes_written

    def write(self, chunk: bytes, stream: str = "stdout") -> None:
        """Whole lines go in as they complete, so lines of stdout and stderr do not interleave mid-line."""
        with self._lock:
            self.bytes_seen += len(chunk)
            pending = self._pending.get(stream, b"") + chunk
            cut = pending.rfind(b"\n") + 1 if len(pending) < _MAX_PARTIAL else len(pending)
            self._pending[stream] = pending[cut:]
            self._keep(pending[:cut])

    def _keep(self, data: bytes) -> None:
        room = self.cap_bytes - self.bytes_written
        if data and room > 0:
            kept = data[:room]
            if self._save(kept):
                self.bytes_written += len(kept)

    def _save(self, data: bytes) -> bool:
        if self._handle is None:
            return False
        try:
            self._handle.write(data)
            self._handle.flush()
        except OSError as error:
            self._fail(error)
            return False
        return True

    def _fail(self, error: OSError) -> None:
        """Saving stops for good; what the file already holds stays."""
        self.error = error.strerror or str(error)
        handle, self._handle = self._handle, None
        if handle is not None:
            try:
                handle.close()
            except OSError:  # its buffer could not be written either
                pass
        if self._on_error is not None:
            self._on_error(self.error)

    def close(self) -> None:
        with self._lock:
            for stream in list(self._pending):
                self._keep(self._pending.pop(stream))
            if self.truncated and self.error is None:
                self._save(f"\n[rigscope: output.log capped at {self.cap_bytes} bytes; "
                           f"{self.bytes_seen - self.bytes_written} more bytes were not saved]\n".encode())
            handle, self._handle = self._handle, None
            if handle is not None:
                handle.close()  # flushed at each write: nothing left to fail

    def meta(self) -> dict[str, Any]:
        return {"path": OUTPUT_LOG, "bytes_written": self.bytes_written, "bytes_seen": self.bytes_seen,
                "cap_bytes": self.cap_bytes, "truncated": self.truncated, "error": self.error}
