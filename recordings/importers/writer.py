"""An imported session on disk: derived values recomputed, samples, events, spans and meta.json written.

The samples go through the signal pipeline a piece at a time (memory flat in the file's length)
into a hidden staging directory that is renamed into place when complete
(recordings.importers.staging): a failed import leaves nothing behind, a killed one only a
staging directory that the next import removes.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from collectors.schema import session_columns
from collectors.timeutil import iso_from_us
from recordings.analyze import Analysis, prepare_samples
from recordings.errors import InputError, write_failure
from recordings.events import EVENTS, EventLog
from recordings.frames import to_session_types
from recordings.importers.measured import Unmeasured, summarize_measured
from recordings.importers.plausible import null_impossible, said
from recordings.importers.staging import publish, reserve, staging_dir
from recordings.segments import compact, part_path, write_parquet_atomic
from recordings.session import FORMAT, META, create_session_dir, write_json_atomic
from recordings.spans import SPANS_PARQUET, spans_table, summarize_rows
from recordings.tier import hardware_tier

_GPU_COLUMN = re.compile(r"^gpu(\d+)_")  # any column of a GPU: a GPU without utilization is still one
Progress = Callable[[float], None] | None
PIECE_ROWS = 50_000  # samples read in one piece are derived this many at a time
ROW_GROUP_ROWS = 10_000  # of samples.parquet: smaller groups make compaction hold more (their metadata), larger more rows
# Keys of meta.json that the imported data decides, whatever a metadata file says.
OWN_KEYS = frozenset({"format", "session_id", "status", "session_start", "session_end", "total_samples",
                      "monitoring", "host", "gpus", "summary", "warnings"})


@dataclass
class Imported:
    """What an importer read from one file, before it becomes a session."""

    source: Path
    layout: str  # e.g. "rle-lab v1", "nvidia-smi dmon"
    samples: pl.DataFrame | None = None  # wide raw samples; `ts` datetime[µs, UTC]
    chunks: Callable[[], Iterator[pl.DataFrame]] | None = None  # or those of a long file, piece by piece, in order
    progress: Callable[[], float] | None = None  # while `chunks` are read: the fraction of the file done
    first_us: int | None = None  # the first sample's time, when `chunks` are not read yet
    count: int = 0  # samples written
    extra: pl.DataFrame | None = None  # columns kept beside the schema (legacy_*), one row per sample
    spans: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # keys merged into meta.json (a lab metadata file's)
    host: dict[str, Any] = field(default_factory=dict)
    gpus: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # what was left out, in words
    warnings: list[str] = field(default_factory=list)
    sha256: str | None = None  # of the file's contents: the same file is not imported twice
    skipped_rows: dict[str, dict[str, int]] = field(default_factory=dict)  # reason -> rows, first_line
    placeholders: dict[str, int] = field(default_factory=dict)  # column -> cells like [GPU is lost], read as null
    out_of_range: dict[str, int] = field(default_factory=dict)  # session column -> impossible values read as null
    notes: list[str] = field(default_factory=list)  # how the file was read (date order, time zone), in words
    reading: dict[str, Any] = field(default_factory=dict)  # the same for meta.json: naive_times_zone, date_order

    @property
    def has_samples(self) -> bool:
        return self.samples is not None or self.chunks is not None

    def frames(self) -> Iterator[pl.DataFrame]:
        """The samples, in one piece or several."""
        if self.chunks is not None:
            yield from self.chunks()
        elif self.samples is not None:  # in pieces too: the derived table of a long file is several times its size
            yield from self.samples.iter_slices(PIECE_ROWS) if self.samples.height else [self.samples]

    def gpu_indices(self) -> list[int]:
        """The GPUs of the samples: any column of a GPU counts (one without utilization is still a GPU)."""
        if self.samples is not None:
            return sorted({int(m.group(1)) for c in self.samples.columns if (m := _GPU_COLUMN.match(c))})
        return sorted(int(g["index"]) for g in self.gpus)

    def skip(self, reason: str, line: int, rows: int = 1) -> None:
        """Count `rows` skipped for `reason`, the first at the file's 1-based `line`."""
        entry = self.skipped_rows.setdefault(reason, {"rows": 0, "first_line": line})
        entry["rows"] += rows
        entry["first_line"] = min(entry["first_line"], line)

    def ignore(self, columns: list[str]) -> None:
        """Name the file's columns that no session column takes, in one warning (a misspelled one is told)."""
        if columns:
            self.warnings.append(f"ignored {len(columns)} column{'s' * (len(columns) != 1)} rigscope does not read: "
                                 + ", ".join(columns))

    def accounting(self) -> list[str]:
        """The skipped rows and placeholder cells, one line each."""
        lines = [f"skipped {e['rows']} row{'s' * (e['rows'] != 1)}: {reason} (first at line {e['first_line']})"
                 for reason, e in self.skipped_rows.items()]
        lines += [f"{column}: {count} placeholder cell{'s' * (count != 1)} ([N/A], [GPU is lost], ...) read as null"
                  for column, count in self.placeholders.items()]
        return lines


def host_slug(name: str | None) -> str:
    """The host part of an imported session's id and of `{host}` in a directory: `imported` when unknown."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", name or "").strip("-")[:24] or "imported"


def start_us(item: Imported) -> int:
    """The time of the first sample (or span), µs since the epoch."""
    if item.samples is not None and item.samples.height:
        return int(item.samples.select(pl.col("ts").dt.epoch("us").min()).item())
    if item.first_us is not None:
        return item.first_us
    times = [row["start_time"] for row in item.spans if row.get("start_time")]
    if times:
        return round(datetime.fromisoformat(min(times)).timestamp() * 1e6)
    raise InputError(f"{item.source}: no readable row ({'; '.join(item.accounting()) or 'no rows'})")


def _piece_progress(item: Imported, on_progress: Progress, done: int, rows: int) -> Progress:
    """For samples read in one piece (`item.samples`), the fraction done through the piece of `rows` rows that
    starts after `done`; None where the reader tells its own (`item.progress`)."""
    if on_progress is None or item.progress is not None or item.samples is None:
        return None
    total = item.samples.height
    return lambda fraction: on_progress((done + fraction * rows) / total)


def _write_samples(item: Imported, stage: Path, on_progress: Progress,
                   ) -> tuple[int, int, int, dict[str, Any], list[dict[str, Any]]]:
    """Raw samples, piece by piece, through the signal pipeline into `stage`'s samples.parquet (as parts,
    then compacted): memory stays flat in the file's length. The rows, first and last time (µs), summary
    and events."""
    indices = item.gpu_indices()
    columns = session_columns(indices)
    analysis = Analysis(indices, [])
    unmeasured = Unmeasured(analysis.pipeline.prefixes)
    rows, first, end = 0, 0, 0
    part_path(stage, 0, "parquet").parent.mkdir()
    for number, raw in enumerate(item.frames()):
        raw = null_impossible(raw, item.out_of_range)
        frame = prepare_samples(to_session_types(raw, columns), str(item.source))
        table = analysis.add_all(frame, _piece_progress(item, on_progress, rows, frame.height))
        table = unmeasured.null(raw, table)
        if item.extra is not None:
            table = table.hstack(item.extra.slice(rows, table.height))
        write_parquet_atomic(table, part_path(stage, number, "parquet"))
        stamps = table["ts"].dt.epoch("us")
        first = int(stamps[0]) if not rows else first
        rows, end = rows + table.height, int(stamps[-1])
        if item.progress is not None and on_progress is not None:
            on_progress(item.progress())
    summary, events = summarize_measured(unmeasured.held, *analysis.finish())
    if item.out_of_range:
        item.warnings.append(said(item.out_of_range))
    compact(stage, columns, row_group_rows=ROW_GROUP_ROWS)
    return rows, first, end, summary, events


def write_imported(item: Imported, root: Path, on_progress: Progress = None) -> Path:
    """The new session's directory, with `"source": "imported"` in its meta.json.

    `on_progress` is told the fraction done while the derived signals are recomputed."""
    made_root = not root.exists()
    stage = staging_dir(root)
    session = None
    try:
        if item.has_samples:
            rows, started, end, summary, events = _write_samples(item, stage, on_progress)
        else:
            rows, started, end, summary, events = 0, start_us(item), None, {}, []
        item.count = rows
        if item.spans:
            summary["spans"] = summarize_rows(item.spans)
        host = {"hostname": None, "cpu_model": None, **item.host}
        host.setdefault("hardware_tier", hardware_tier(host.get("cpu_model"), [g.get("name") or "" for g in item.gpus]))
        host.setdefault("device_type", "cuda" if item.gpus else "cpu")
        meta: dict[str, Any] = {
            "format": FORMAT, "session_id": None, "status": "complete",
            "session_length_sec": None, "model_name": None, "training_mode": None, "notes": None,
            **{k: v for k, v in item.meta.items() if k not in OWN_KEYS},
            "session_start": iso_from_us(started),
            "session_end": iso_from_us(end) if end is not None else item.meta.get("session_end"),
            "host": host, "gpus": item.gpus,
            "monitoring": {**(item.meta.get("monitoring") or {}), "source": "imported", "collectors": []},
            "imported": {"file": item.source.name, "sha256": item.sha256, "layout": item.layout,
                         "dropped": item.dropped, "skipped_rows": item.skipped_rows,
                         "placeholders": item.placeholders, "out_of_range": item.out_of_range, **item.reading},
            "warnings": item.warnings,
            "total_samples": rows,
            "summary": summary,
        }
        if isinstance(item.meta.get("summary"), dict):
            meta["legacy_summary"] = item.meta["summary"]
        log = EventLog(stage / EVENTS)
        for event in events:
            log.append(event)
        log.close()
        if item.spans:
            write_parquet_atomic(spans_table(item.spans), stage / SPANS_PARQUET)
        session = reserve(stage, lambda: create_session_dir(root, datetime.fromtimestamp(started / 1e6, UTC),
                                                            host_slug(host["hostname"])))
        meta["session_id"] = session.name
        write_json_atomic(stage / META, meta)
        publish(stage, session)
    except (OSError, pl.exceptions.PolarsError, InputError) as error:
        why = write_failure(error, root)  # before the cleanup gives the room back
        shutil.rmtree(stage, ignore_errors=True)
        if session is not None and not (session / META).exists():
            shutil.rmtree(session, ignore_errors=True)
        if made_root and not any(root.iterdir()):
            root.rmdir()  # a failed import leaves nothing behind, not even the directory it made
        if isinstance(error, InputError):
            raise
        raise InputError(f"cannot write {session or root}: {why}") from None
    return session
