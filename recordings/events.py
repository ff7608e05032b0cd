"""`events.jsonl`: one JSON object a line, flushed per event; readers skip what is cut or invalid."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Any

EVENTS = "events.jsonl"


class EventLog:
    """Appends events to a session's events.jsonl, one flushed line each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 (kept open for the session)
        self.count = 0

    def append(self, event: dict[str, Any]) -> None:
        self._handle.write(json.dumps(event, separators=(",", ":"), default=str) + "\n")
        self._handle.flush()
        self.count += 1

    def close(self) -> None:
        self._handle.close()


def append_event(path: Path, event: dict[str, Any]) -> None:
    """One event into a session no recorder holds open (e.g. a note to a finished session)."""
    log = EventLog(path)
    try:
        log.append(event)
    finally:
        log.close()


def read_events(path: Path, warn: bool = True) -> list[dict[str, Any]]:
    """Every valid event object; an invalid line (a cut last line) is skipped with a warning."""
    events: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return events
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if isinstance(event, dict) and isinstance(event.get("kind"), str) and isinstance(event.get("ts"), str):
            events.append(event)
        elif warn:
            print(f"rigscope: warning: {path}:{number}: skipped an invalid event line", file=sys.stderr)
    return events
