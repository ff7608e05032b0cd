"""`output.log`: what a `rigscope run` command wrote to stdout and stderr, in arrival order, capped in size.

Once the cap is reached the rest is counted, not saved, and one closing line says so; the
same figures go in meta.json (`run.output_log`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

OUTPUT_LOG = "output.log"
DEFAULT_CAP_BYTES = 10 * 1024 * 1024
_MAX_PARTIAL = 65536  # a line longer than this goes in unfinished


class OutputLog:
    """A byte sink shared by the stdout and stderr relays (thread-safe)."""

    def __init__(self, session: Path, cap_bytes: int = DEFAULT_CAP_BYTES) -> None:
        self.cap_bytes = cap_bytes
        self.bytes_written = 0
        self.bytes_seen = 0
        self._lock = threading.Lock()
        self._pending: dict[str, bytes] = {}  # per stream: the start of a line not yet complete
        self._handle = open(session / OUTPUT_LOG, "wb")  # noqa: SIM115 (kept open while the command runs)

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
        if data and room > 0 and not self._handle.closed:
            kept = data[:room]
            self._handle.write(kept)
            self._handle.flush()
            self.bytes_written += len(kept)

    def close(self) -> None:
        with self._lock:
            if self._handle.closed:
                return
            for stream in list(self._pending):
                self._keep(self._pending.pop(stream))
            if self.truncated:
                dropped = self.bytes_seen - self.bytes_written
                self._handle.write(f"\n[rigscope: output.log capped at {self.cap_bytes} bytes; "
                                   f"{dropped} more bytes were not saved]\n".encode())
            self._handle.close()

    def meta(self) -> dict[str, Any]:
        return {"path": OUTPUT_LOG, "bytes_written": self.bytes_written, "bytes_seen": self.bytes_seen,
                "cap_bytes": self.cap_bytes, "truncated": self.truncated}
