"""A session loaded for reporting: meta.json checked for types, events, and lazy access to samples and spans.

A session never closed (its recorder killed, or still running) has no summary in meta.json yet: its
summary is computed from the samples that can be read, as `rigscope repair` would write it.

Reading never modifies the session.  Bad input (a meta.json value of the wrong
type, an unreadable Parquet file) raises `InputError` with one line; a cut
events line is skipped, as the session format says.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from collectors.clock import ClockShifts
from collectors.timeutil import iso_from_us, us_from_iso
from recordings import segments
from recordings.errors import InputError
from recordings.events import EVENTS, read_events
from recordings.reader import lazy_chunks, scan_samples
from recordings.safe_files import is_regular
from recordings.session import read_meta, session_status
from recordings.spans import SPANS_JOURNAL, SPANS_PARQUET, read_spans
from recordings.streamed_summary import session_summary

NUMBER = (int, float)
CHUNK_ROWS = 65_536  # samples a query over every row reads at a time
# Expected types of the meta.json keys a report reads ("." separates nested keys; "*" is any key or item).
META_TYPES: dict[str, tuple[type, ...]] = {
    "session_id": (str,), "status": (str,), "session_start": (str,), "session_end": (str,),
    "model_name": (str,), "training_mode": (str,), "notes": (str,), "total_samples": NUMBER,
    "host": (dict,), "gpus": (list,), "gpus.*": (dict,), "monitoring": (dict,), "recorder": (dict,),
    "recorder.argv": (list,), "warnings": (list,), "group_id": (str,),
    "summary": (dict,), "summary.devices": (dict,), "summary.devices.*": (dict,),
    "summary.devices.*.throttle": (dict,), "summary.workload_seconds": (dict,),
    "summary.workload_seconds.*": NUMBER, "summary.spans": (dict,), "summary.duration_s": NUMBER,
    "checks": (list,), "checks.*": (dict,), "checks.*.expression": (str,), "checks.*.value": NUMBER,
    "checks.*.passed": (bool,),
}
_NAMES = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false"}


def _check_types(value: Any, path: str, problems: list[str]) -> None:
    expected = META_TYPES.get(path) or META_TYPES.get(_wildcard(path))
    if expected is not None and value is not None:
        wrong = (isinstance(value, bool) and bool not in expected) or not isinstance(value, expected)
        if wrong:
            problems.append(f"'{path}' should be {_NAMES[expected[0]]}, not {type(value).__name__}")
            return
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        _check_types(child, f"{path}.{key}" if path else str(key), problems)


def _wildcard(path: str) -> str:
    """The META_TYPES pattern of a concrete path: `gpus.0` → `gpus.*`, `summary.devices.gpu0` → `summary.devices.*`."""
    parts = path.split(".")
    for i in range(len(parts)):
        pattern = ".".join(parts[:i] + ["*"] + parts[i + 1:])
        if pattern in META_TYPES:
            return pattern
    return path


def checked_meta(session: Path) -> dict[str, Any]:
    """meta.json, with every key a report reads of the expected type (else one InputError line)."""
    meta = read_meta(session)
    problems: list[str] = []
    _check_types(meta, "", problems)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputError(f"{session / 'meta.json'}: {problems[0]}{more}")
    return meta


def first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


@dataclass
class SessionData:
    """What the report sections read; samples and spans are loaded on first use."""

    path: Path
    meta: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        """meta.json's summary; of a session never closed (which has none yet), the one its samples give."""
        return self.summary_of_samples if self.open_ended else self.meta.get("summary") or {}

    @property
    def open_ended(self) -> bool:
        """Never closed: its recorder still runs, or died (kill -9, a crash) and `rigscope repair` was not run."""
        return self.meta.get("status") == "recording"

    @cached_property
    def status(self) -> str:
        """`recording` while its recorder lives, a dead recorder's session `interrupted` (as `ls` says)."""
        return session_status(self.meta, self.path)

    @property
    def unfinished_note(self) -> str | None:
        """What a reader of an open-ended session's figures must know, or None for a closed session."""
        if not self.open_ended:
            return None
        if self.status == "recording":
            return "still recording: the figures are of the samples flushed so far"
        return ("not repaired: the figures are of the samples flushed before the recorder stopped; "
                "`rigscope repair` makes it complete")

    @cached_property
    def summary_of_samples(self) -> dict[str, Any]:
        """The summary a close (or a repair) would write, from the samples that can be read now."""
        try:
            return session_summary(self.path, self.samples, self.events)
        except (OSError, pl.exceptions.PolarsError) as error:
            raise InputError(f"{self.path}: unreadable samples ({first_line(error)})") from None

    @cached_property
    def total_samples(self) -> int:
        """meta.json's count of a closed session; else (never closed, or no count kept) the rows that can be read."""
        count = self.meta.get("total_samples")
        if not self.open_ended and isinstance(count, NUMBER) and not isinstance(count, bool):
            return int(count)
        return int(self.collect(self.samples.select(pl.len())).item())

    @cached_property
    def session_end(self) -> str | None:
        """meta.json's end; of a session never closed, the time of its last sample (what `repair` writes)."""
        end = self.meta.get("session_end")
        if end or not self.open_ended or "ts" not in self.columns:
            return end
        last = self.collect(self.samples.select(pl.col("ts").max().dt.epoch("us"))).item()
        return iso_from_us(int(last)) if last is not None else None

    @property
    def workload_seconds(self) -> dict[str, float]:
        """Seconds per workload state; a state whose time is unknown (null: NaN in the file) is left out."""
        seconds = self.summary.get("workload_seconds") or {}
        return {state: value for state, value in seconds.items() if isinstance(value, (int, float))}

    @property
    def devices(self) -> dict[str, dict[str, Any]]:
        return self.summary.get("devices") or {}

    @property
    def gpu_prefixes(self) -> list[str]:
        return [p for p in self.devices if p.startswith("gpu")]

    def events_of(self, *kinds: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event.get("kind") in kinds]

    @cached_property
    def samples(self) -> pl.LazyFrame:
        """The samples, lazily: samples.parquet, else the segments of an unfinished session."""
        target = self.path / segments.SAMPLES_PARQUET
        if is_regular(target):
            try:
                pl.scan_parquet(target, glob=False).collect_schema()  # a cut or foreign file fails here, with one line
            except (OSError, pl.exceptions.PolarsError) as error:
                raise InputError(f"{target}: unreadable Parquet file ({first_line(error)})") from None
        return scan_samples(self.path)

    @cached_property
    def columns(self) -> list[str]:
        try:
            return self.samples.collect_schema().names()
        except pl.exceptions.PolarsError as error:
            raise InputError(f"{self.path}: unreadable samples ({first_line(error)})") from None

    def chunks(self, query: pl.LazyFrame) -> Iterator[pl.DataFrame]:
        """A query over the samples `CHUNK_ROWS` at a time, in order: memory flat in the session's length."""
        try:
            yield from lazy_chunks(query, CHUNK_ROWS)
        except (OSError, pl.exceptions.PolarsError) as error:
            raise InputError(f"{self.path}: unreadable samples ({first_line(error)})") from None

    def collect(self, query: pl.LazyFrame) -> pl.DataFrame:
        """Run a query over the samples; a file that turns out corrupt while read is one InputError line."""
        try:
            return query.collect()
        except (OSError, pl.exceptions.PolarsError) as error:
            raise InputError(f"{self.path}: unreadable samples ({first_line(error)})") from None

    @cached_property
    def spans(self) -> pl.DataFrame | None:
        """One row per finished span, or None when the session has none."""
        if not (self.path / SPANS_PARQUET).is_file() and not (self.path / SPANS_JOURNAL).is_file():
            return None
        table = read_spans(self.path)
        return table if table.height else None

    @cached_property
    def start_us(self) -> int | None:
        """Wall-clock µs of the first sample (elapsed 0): the first `ts`, else meta's session_start."""
        if "ts" in self.columns:
            first = self.collect(self.samples.select(pl.col("ts").first().dt.epoch("us"))).item()
            if first is not None:
                return int(first)
        start = self.meta.get("session_start")
        try:
            return us_from_iso(start) if start else None
        except ValueError:
            return None

    @cached_property
    def clock_shifts(self) -> ClockShifts:
        return ClockShifts.of_events(self.events)

    def elapsed_of(self, iso: Any) -> float | None:
        """Seconds since the first sample of an event's ISO `ts` (less the wall clock's steps), or None."""
        if self.start_us is None or not isinstance(iso, str):
            return None
        try:
            return self.clock_shifts.elapsed_of((us_from_iso(iso) - self.start_us) / 1e6)
        except ValueError:
            return None

    def clock_of(self, elapsed_s: float | None) -> str:
        """`HH:MM:SS` UTC of a time in the session, or an empty string when unknown."""
        if elapsed_s is None or self.start_us is None:
            return ""
        try:
            return datetime.fromtimestamp(self.start_us / 1e6 + elapsed_s, UTC).strftime("%H:%M:%S")
        except (OverflowError, ValueError, OSError):  # an event's time past any calendar (a damaged events.jsonl)
            return ""


def load_session(session: Path, warn: bool = True) -> SessionData:
    """Read a session for a report; raises InputError on bad input."""
    meta = checked_meta(session)
    data = SessionData(session, meta, read_events(session / EVENTS, warn=warn))
    data.columns  # noqa: B018 (open the samples now, so a corrupt file is reported before any output)
    return data
