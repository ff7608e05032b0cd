"""`events.jsonl`: one JSON object a line, flushed per event; readers skip what is cut, invalid or oversized.

A FIFO, device or directory in its place is an InputError (see `recordings.safe_files`)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO, Any

from recordings.safe_files import loads, read_bytes

EVENTS = "events.jsonl"
MAX_LINE_CHARS = 2**20  # an event is at most 64 kB (the HTTP and UDP receivers' limit): a longer line is no event


class EventLog:
    """Appends events to a session's events.jsonl, one flushed line each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 (kept open for the session)
        if _cut_at_end(path):  # a crash or a full disk cut the last line: the next event starts a line of its own
            self._handle.write("\n")
        self.count = 0

    def append(self, event: dict[str, Any]) -> None:
        self._handle.write(json.dumps(event, separators=(",", ":"), default=str) + "\n")
        self._handle.flush()
        self.count += 1

    def close(self) -> None:
        self._handle.close()


def _cut_at_end(path: Path) -> bool:
    """Whether the file ends inside a line (its last byte is not a newline)."""
    with open(path, "rb") as handle:
        if handle.seek(0, os.SEEK_END) == 0:
            return False
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) != b"\n"


def append_event(path: Path, event: dict[str, Any]) -> None:
    """One event into a session no recorder holds open (e.g. a note to a finished session)."""
    log = EventLog(path)
    try:
        log.append(event)
    finally:
        log.close()


def read_events_counted(path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """Every valid event object, and the numbers of the lines skipped as invalid (a cut last line)."""
    events: list[dict[str, Any]] = []
    skipped: list[int] = []
    try:
        lines = read_bytes(path).decode("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return events, skipped
    oversized = [number for number, line in enumerate(lines, 1) if len(line) > MAX_LINE_CHARS]
    numbered = [(number, line) for number, line in enumerate(lines, 1)
                if line.strip() and len(line) <= MAX_LINE_CHARS]
    for number, event in zip((n for n, _ in numbered), _parse_lines([line for _, line in numbered])):
        if isinstance(event, dict) and isinstance(event.get("kind"), str) and isinstance(event.get("ts"), str):
            events.append(event)
        else:
            skipped.append(number)
    return events, sorted(skipped + oversized) if oversized else skipped


def _parse_lines(lines: list[str]) -> list[Any]:
    """Each line's JSON value (None where invalid): in one call when every line is one object (4x faster)."""
    if all(line.lstrip().startswith("{") and line.rstrip().endswith("}") for line in lines):
        try:
            values = loads("[" + ",".join(lines) + "]", numbers=False)
        except ValueError:  # some line is cut or broken: line by line below
            values = None
        if isinstance(values, list) and len(values) == len(lines):
            return values
    return [_parse_line(line) for line in lines]


def _parse_line(line: str) -> Any:
    try:
        return loads(line, numbers=False)
    except ValueError:
        return None


def skipped_warning(path: Path, skipped: list[int], kind: str = "event") -> str:
    """One line for every invalid line of a file: how many, and where the first ones are."""
    where = ", ".join(map(str, skipped[:5])) + (", …" if len(skipped) > 5 else "")
    what = f"an invalid {kind} line" if len(skipped) == 1 else f"{len(skipped)} invalid {kind} lines"
    return f"{path}: skipped {what} (line {where})"


def read_events(path: Path, warn: bool = True) -> list[dict[str, Any]]:
    """Every valid event object; invalid lines are skipped with one warning for the file."""
    events, skipped = read_events_counted(path)
    if warn and skipped:
        print(f"rigscope: warning: {skipped_warning(path, skipped)}", file=sys.stderr)
    return events
