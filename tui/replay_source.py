"""The dashboard on a recording: the screen's feed reads a replay player's stream (recordings/replay_player.py).

The player is the source; this adds what the dashboard shows of the session
(its label and devices, from meta.json) and the feed that reads its stream, as
a live dashboard's reads the sampler's, and lists the sessions `o` can open.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from collectors.process_rows import ProcessSnapshot
from collectors.schema import gpu_prefix
from collectors.stream import SCREEN
from recordings.catalog import catalog
from recordings.replay import check_session
from recordings.replay_player import POLL_S, ReplayPlayer
from tui.bars import SessionLabel, host_words
from tui.devices import Device, feed_columns
from tui.feed import DashboardFeed


class ReplaySource(ReplayPlayer):
    """A `tui.source.DashboardSource` (and `tui.replay_screen.Player`) on a recorded session."""

    def __init__(self, session: Path, speed: float | None = 1.0, at: str | None = None,
                 poll_s: float = POLL_S) -> None:
        super().__init__(session, speed, at, poll_s)
        self.process_control = None  # recorded processes: the kill key ends nothing
        self.compacted: str | None = None  # what its opener did to finish an interrupted session: said on screen
        meta = self.reader.meta
        host = found if isinstance(found := meta.get("host"), dict) else {}
        self.label = SessionLabel(*host_words(host), session.name, "REPLAY")
        self.devices = devices_of_meta(meta)
        self.feed = DashboardFeed(self.stream.subscribe(SCREEN), feed_columns(self.devices), self.hz)
        self.feed.start()
        self.start()

    def recording(self) -> None:
        return None

    def processes(self) -> ProcessSnapshot | None:
        """The process rows the stream brought; None for a session recorded without them."""
        return self.feed.processes() if self.has_processes else None

    def toggle_recording(self) -> str:
        return "replay does not record"


def devices_of_meta(meta: dict[str, Any]) -> list[Device]:
    """The panels of a session as meta.json (or an attached recorder's hello) lists its host and GPUs."""
    host = found if isinstance(found := meta.get("host"), dict) else {}
    return [Device("cpu", f"CPU {host.get('cpu_model') or ''}".strip())] + [
        Device(gpu_prefix(index), f"GPU{index} {name.replace('NVIDIA ', '')}".strip(), gpm=index in _with_gpm(meta))
        for index, name in _gpus(meta)]


def _gpus(meta: dict[str, Any]) -> list[tuple[int, str]]:
    """(index, name) of each GPU meta.json lists with an integer index (a damaged entry is left out)."""
    gpus = found if isinstance(found := meta.get("gpus"), list) else []
    return [(g["index"], name if isinstance(name := g.get("name"), str) else "") for g in gpus
            if isinstance(g, dict) and isinstance(g.get("index"), int) and not isinstance(g.get("index"), bool)]


def _with_gpm(meta: dict[str, Any]) -> set[int]:
    """Indices of the GPUs meta.json says had GPM (their panels get the SM row)."""
    gpus = found if isinstance(found := meta.get("gpus"), list) else []
    return {g["index"] for g in gpus if isinstance(g, dict) and g.get("gpm") is True and isinstance(g.get("index"), int)}


class SessionDirectory:
    """The sessions under one directory, for `o` in a dashboard (tui.source.SessionOpener).  `prepare` is run on a
    session before it opens (off the UI thread): the command line compacts an interrupted one there."""

    def __init__(self, root: Path, prepare: Callable[[Path], str | None] | None = None) -> None:
        self.root = root
        self._prepare = prepare

    def list(self) -> list[dict[str, Any]]:
        """The catalog, with the sessions that cannot open marked corrupt and why (a footer read each)."""
        rows = catalog(self.root)
        for row in rows:
            if row.get("status") != "corrupt":
                problem = check_session(Path(row["path"]))
                if problem:
                    row.update(status="corrupt", error=problem)
        return rows

    def open(self, session: Path) -> ReplaySource:
        said = self._prepare(session) if self._prepare is not None else None
        source = ReplaySource(session)
        source.compacted = said
        return source
