"""What the dashboard needs from whatever feeds it (live monitoring now, a recording in replay)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tui.bars import SessionLabel
from tui.devices import Device
from tui.feed import DashboardFeed

if TYPE_CHECKING:
    from collectors.process_rows import ProcessSnapshot


class ProcessControl(Protocol):
    """What the kill key may do to this machine's processes (collectors.processes.ProcessControl)."""

    def terminate(self, pid: int, user: str | None, listed_at: float | None = None) -> str:
        """SIGTERM to `pid` if it is still `user`'s process that was listed at `listed_at` (epoch seconds, when
        known); returns what happened, in words; raises nothing."""
        ...


class DashboardSource(Protocol):
    devices: list[Device]
    feed: DashboardFeed

    @property
    def label(self) -> SessionLabel:
        """Host, hardware tier, session id and mode (LIVE, DEMO, REPLAY) for the header."""
        ...

    @property
    def process_control(self) -> ProcessControl | None:
        """What the kill key may do to processes; None where the processes shown cannot be acted on (a replay)."""
        ...

    def now_iso(self) -> str:
        """The source's clock, for stamping notes and tags when a key is pressed."""
        ...

    def post(self, kind: str, ts: str, **fields: Any) -> None:
        """A note or tag into the session (events.jsonl; a tag also steers the workload state); InputError
        when it cannot be kept (said on screen)."""
        ...

    def recording(self) -> dict[str, Any] | None:
        """session, samples, bytes, flush_age_s, achieved_hz, error; None when not recording."""
        ...

    def toggle_recording(self) -> str:
        """Stop recording, or start a new session; returns what happened, in words."""
        ...

    def processes(self) -> ProcessSnapshot | None:
        """The process rows to show (the feed's, from the stream); None where no process tier ran."""
        ...

    def notices(self) -> list[str]:
        """Problems reported since the last call (a lost GPU, a full disk), each once."""
        ...

    def close(self) -> str:
        """Stop everything cleanly; returns where the session was saved, in words."""
        ...


class SessionOpener(Protocol):
    """The recorded sessions the app can open over the dashboard (`o`); both calls read the disk."""

    root: Path

    def list(self) -> list[dict[str, Any]]:
        """The catalog rows (recordings.catalog), newest first."""
        ...

    def open(self, session: Path) -> Any:
        """A replay source on the session; raises InputError for a session it cannot read."""
        ...
