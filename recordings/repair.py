"""`rigscope repair`: finish a session whose recorder died (crash, kill -9, power loss).

Compacts the segments and the last journal into samples.parquet (and the process rows
into processes.parquet), writes samples.csv again from it (a session recording CSV), recomputes
the summary, marks the session `interrupted` with the time of the repair (`repaired_at`) and writes
its report.md.  Journal lines it had to skip are said in its answer and in meta.json's `warnings`.
Idempotent: a complete compacted file is kept (only leftover segments go), so a repair killed at
any step is finished by the next one, and so is a close killed before report.md landed.  A session
that looks live (`session_status`: its recorder runs here, or another host's files changed lately)
is refused unless forced.  One repair of a session runs at a time (a lock on its directory).

`compact_if_abandoned` is what `ls` and `replay` run on each session they find (SESSION_FORMAT:
the next `ls`/`replay` that finds an interrupted session compacts it): only a session whose recorder
ran on this host and is gone.  A recorder on another host may only be slow to flush, so its session
waits for an explicit `rigscope repair`.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from collectors.timeutil import iso_from_us
from recordings import segments
from recordings.errors import InputError, write_failure
from recordings.events import EVENTS, read_events
from recordings.frames import write_csv_chunks
from recordings.processes import PROCESSES_DIR, compact_processes
from recordings.reader import parquet_chunks, session_columns_of
from recordings.recorder import RESERVE, SAMPLES_CSV
from recordings.report.sections_session import REPORT_FILE
from recordings.session import (
    META,
    is_running,
    read_meta,
    replacing,
    row_group_rows,
    session_status,
    write_json_atomic,
)
from recordings.spans import SPANS_JOURNAL, write_span_tables
from recordings.streamed_summary import session_summary

CSV_CHUNK_ROWS = 65_536  # samples written to samples.csv at a time


def needs_repair(session: Path) -> bool:
    meta = read_meta(session)
    return meta.get("status") == "recording" and session_status(meta, session) != "recording"


def _unfinished(session: Path) -> bool:
    """Segments or a spans journal left behind (a close or an earlier repair killed before it ended)."""
    return any((session / name).exists() for name in (segments.SAMPLES_DIR, PROCESSES_DIR, SPANS_JOURNAL, RESERVE))


def _lacks_report(session: Path, meta: dict) -> bool:
    """A recorded session (not an imported one) that closed, or was repaired, without its report.md."""
    monitoring = found if isinstance(found := meta.get("monitoring"), dict) else {}
    return (meta.get("status") in ("complete", "interrupted") and monitoring.get("source") != "imported"
            and not (session / REPORT_FILE).exists())


def _records_csv(session: Path, meta: dict) -> bool:
    """Whether the session writes CSV: its `monitoring.formats` say so, or (a session that does not say) its samples.csv."""
    monitoring = found if isinstance(found := meta.get("monitoring"), dict) else {}
    formats = monitoring.get("formats")
    return "csv" in formats if isinstance(formats, list) else (session / SAMPLES_CSV).is_file()


def _rewrite_csv(session: Path) -> None:
    """samples.csv from samples.parquet: the dead recorder flushed it less often than the journal, maybe torn."""
    with replacing(session / SAMPLES_CSV) as tmp:
        write_csv_chunks(parquet_chunks(session / segments.SAMPLES_PARQUET, CSV_CHUNK_ROWS), tmp)


def _live_refusal(session: Path, meta: dict) -> str:
    """Why the session looks alive: its recorder runs here, or (another host) its files changed lately."""
    recorder = found if isinstance(found := meta.get("recorder"), dict) else {}
    if is_running(meta):
        return f"{session.name} is still recording (pid {recorder.get('pid')}); stop it first"
    return (f"{session.name} is still recording on {recorder.get('hostname') or 'another host'} "
            "(its files changed moments ago); stop it first, or repair --force")


@contextmanager
def _repair_lock(session: Path) -> Iterator[None]:
    """The session to this repair alone (two `ls` at once, an `ls` beside a `repair`); InputError when another has it."""
    try:
        fd = os.open(session, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        raise InputError(f"{session.name}: cannot open it to repair ({error.strerror or error})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"{session.name} is being repaired by another process; try again when it ends") from None
        yield
    finally:
        os.close(fd)  # and the lock with it


def compact_if_abandoned(session: Path, starting: Callable[[], None] | None = None) -> str | None:
    """Repair `session` when its recorder ran on this host and is gone and something is left to finish; None when
    there is nothing to do (or the session is not ours to write), else the repair's answer or why it failed.
    `starting` is called before a repair begins (a day's session takes most of a minute).  Never raises: the
    session is then read as it is."""
    try:
        meta = read_meta(session)
    except InputError:
        return None
    recorder = found if isinstance(found := meta.get("recorder"), dict) else {}
    # A session that never closed, or one a killed repair left unfinished; never one its recorder closed (a complete
    # session may keep a spans journal its table could not be made from: not a session to mark interrupted).
    left = meta.get("status") == "recording" or (bool(meta.get("repaired_at")) and _unfinished(session))
    if not left or recorder.get("hostname") != socket.gethostname() or is_running(meta) \
            or not os.access(session, os.W_OK):
        return None
    if starting is not None:
        starting()
    try:
        return repair_session(session)
    except InputError as error:
        return f"not compacted: {error}"


def repair_session(session: Path, force: bool = False) -> str:
    """Finish the session; a full disk or another write error is one line (InputError), no temp file left."""
    with _repair_lock(session):
        return _repair_locked(session, force)


def _repair_locked(session: Path, force: bool) -> str:
    meta = read_meta(session)  # under the lock: a repair that just ended is seen
    if not force and session_status(meta, session) == "recording":
        raise InputError(_live_refusal(session, meta))
    try:
        if meta.get("status") != "recording" and not _unfinished(session):
            if _lacks_report(session, meta):
                _write_report(session)  # a close, or a repair, killed at its last step
                if not meta.get("repaired_at"):
                    return f"report.md written (it was missing); nothing else to repair (status {meta.get('status')})"
            if meta.get("repaired_at"):
                return f"already repaired at {meta['repaired_at'][:19].replace('T', ' ')} UTC: nothing left to do"
            return f"nothing to repair (status {meta.get('status')})"
        return _repair(session, meta)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise InputError(f"{session.name}: repair stopped: {write_failure(error, session)}; run it again when fixed") from None


def _repair(session: Path, meta: dict) -> str:
    (session / RESERVE).unlink(missing_ok=True)  # the dead recorder's room on the disk
    skipped: list[str] = []
    samples = segments.compact(session, session_columns_of(meta), row_group_rows=row_group_rows(meta),
                               warnings=skipped)
    compact_processes(session, skipped)
    csv = _records_csv(session, meta)
    if csv:
        _rewrite_csv(session)
    if skipped:
        found = meta.get("warnings")
        meta["warnings"] = [*(found if isinstance(found, list) else []), *skipped]
    meta["status"] = "interrupted"  # SESSION_FORMAT: what a recorder that died leaves; `repaired_at` says it was mended
    meta["repaired_at"] = iso_from_us(time.time_ns() // 1000)
    meta["total_samples"] = samples
    # The spans that finished before the crash are in the journal, summed up with the samples.
    meta["summary"] = session_summary(session, pl.scan_parquet(session / segments.SAMPLES_PARQUET, glob=False),
                                      read_events(session / EVENTS))
    last_ts = segments.compacted_range(session / segments.SAMPLES_PARQUET)[2]
    if samples and last_ts is not None:
        meta["session_end"] = iso_from_us(last_ts)
    write_json_atomic(session / META, meta)
    # After meta.json: a kill in between leaves the journal, and the next repair finds it unfinished.
    write_span_tables(session, csv=csv)
    _write_report(session)
    return "; ".join([f"repaired: {samples} samples, status interrupted", *skipped])


def _write_report(session: Path) -> None:
    from recordings.report import write_session_report

    write_session_report(session)

