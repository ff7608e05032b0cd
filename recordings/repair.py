"""`rigscope repair`: finish a session whose recorder died (crash, kill -9, power loss).

Compacts the segments and the last journal into samples.parquet (and the process rows
into processes.parquet), cuts a torn last CSV line, recomputes the summary, marks the session
`interrupted` with the time of the repair (`repaired_at`) and writes its report.md.
"""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl

from collectors.timeutil import iso_from_us, us_from_iso
from recordings import segments
from recordings.errors import InputError
from recordings.events import EVENTS, read_events
from recordings.processes import compact_processes
from recordings.reader import read_samples, session_columns_of
from recordings.recorder import SAMPLES_CSV
from recordings.session import META, is_running, read_meta, row_group_rows, write_json_atomic
from recordings.spans import SPANS_JOURNAL, read_journal_rows, summarize_rows, write_span_tables


def needs_repair(session: Path) -> bool:
    meta = read_meta(session)
    return meta.get("status") == "recording" and not is_running(meta)


def _cut_torn_csv_line(path: Path) -> None:
    if not path.is_file():
        return
    with open(path, "rb+") as handle:
        data = handle.read()
        handle.truncate(data.rfind(b"\n") + 1)


def repair_session(session: Path) -> str:
    meta = read_meta(session)
    if is_running(meta):
        raise InputError(f"{session.name} is still recording (pid {meta['recorder']['pid']}); stop it first")
    if meta.get("status") != "recording" and not (session / segments.SAMPLES_DIR).exists():
        if meta.get("repaired_at"):
            return f"already repaired at {meta['repaired_at'][:19].replace('T', ' ')} UTC: nothing left to do"
        return f"nothing to repair (status {meta.get('status')})"
    samples = segments.compact(session, session_columns_of(meta), row_group_rows=row_group_rows(meta))
    compact_processes(session)
    _cut_torn_csv_line(session / SAMPLES_CSV)
    meta["status"] = "interrupted"  # SESSION_FORMAT: what a recorder that died leaves; `repaired_at` says it was mended
    meta["repaired_at"] = iso_from_us(time.time_ns() // 1000)
    meta["total_samples"] = samples
    table = read_samples(session)
    meta["summary"] = _recompute_summary(session, table)
    if (session / SPANS_JOURNAL).exists():  # the spans that finished before the crash
        meta["summary"]["spans"] = summarize_rows(read_journal_rows(session / SPANS_JOURNAL))
        write_span_tables(session, csv="csv" in ((meta.get("monitoring") or {}).get("formats") or []))
    if samples:
        meta["session_end"] = iso_from_us(int(table.get_column("ts").dt.epoch("us").max()))
    write_json_atomic(session / META, meta)
    from recordings.report import write_session_report

    write_session_report(session)
    return f"repaired: {samples} samples, status interrupted"


def _recompute_summary(session: Path, table: pl.DataFrame) -> dict:
    """The summary the recorder would have written, from the samples and the session's tags."""
    from recordings.analyze import analyze_frame

    tags = [(us_from_iso(e["ts"]), str(e["state"])) for e in read_events(session / EVENTS) if e["kind"] == "tag"]
    _, summary, _ = analyze_frame(table, tags)
    return summary
