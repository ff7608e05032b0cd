"""Sample segments on disk: journals (flushed JSON lines) and Parquet parts, and compacting them.

`samples/part-NNNNNN.journal` holds the open segment's rows; when the segment
closes it becomes `part-NNNNNN.parquet` (written to a temp name, renamed) and
the journal is deleted.  A journal whose Parquet also exists is a leftover and
the Parquet wins.  A journal's last line may be cut by a crash: it is dropped.
Other tables of a session (the process rows) keep segments the same way, in a
directory of their own (`directory`) compacted into their own file (`target`).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import polars as pl

from collectors.schema import ColumnTypes
from recordings.errors import InputError, first_line
from recordings.frames import conform, journal_schema, polars_schema, to_session_types
from recordings.safe_files import is_regular, read_bytes

SAMPLES_DIR = "samples"
SAMPLES_PARQUET = "samples.parquet"


def part_path(session: Path, number: int, suffix: str, directory: str = SAMPLES_DIR) -> Path:
    return session / directory / f"part-{number:06d}.{suffix}"


def read_journal(path: Path, columns: ColumnTypes) -> pl.DataFrame:
    """Rows of a journal, without a cut last line nor lines without a `ts`, typed as the session schema."""
    data = read_bytes(path)
    data = data[: data.rfind(b"\n") + 1]  # anything after the last newline is a cut line
    if not data:
        return to_session_types(pl.DataFrame(schema=journal_schema(columns)), columns)
    try:
        table = pl.read_ndjson(io.BytesIO(data), schema=journal_schema(columns), ignore_errors=True)
        return to_session_types(table.filter(pl.col("ts").is_not_null()), columns)
    except pl.exceptions.PolarsError as error:
        raise InputError(f"{path}: unreadable journal ({first_line(error)})") from None


def write_parquet_atomic(table: pl.DataFrame, path: Path, row_group_rows: int | None = None) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    table.write_parquet(tmp, compression="zstd", statistics=True, row_group_size=row_group_rows)
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def segment_files(session: Path, directory: str = SAMPLES_DIR) -> list[Path]:
    """Parts in order: each part's Parquet where it landed, else its journal."""
    folder = session / directory
    if not folder.is_dir():
        return []
    parts: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not _regular_entry(path) or not path.name.startswith("part-"):
            continue  # (gone since the listing: a journal that just landed as its Parquet part)
        stem = path.name.split(".")[0]
        if path.suffix == ".parquet" or (path.suffix == ".journal" and stem not in parts):
            parts[stem] = path
    return [parts[stem] for stem in sorted(parts)]


def _regular_entry(path: Path) -> bool:
    """Anything in the folder that is a directory, FIFO or device (or a link to one) stops every reader, and
    `repair` before it changes anything (the segments' removal would stop half way on it)."""
    try:
        return is_regular(path)
    except InputError as error:
        raise InputError(f"{error}; move it out of {path.parent}") from None


def read_segment(path: Path, columns: ColumnTypes) -> pl.DataFrame:
    """One part, a journal or a landed Parquet file, typed as the session schema."""
    if path.suffix == ".journal":
        return read_journal(path, columns)
    table = read_parquet(path)
    try:
        return to_session_types(conform(table, polars_schema(columns), path), columns)
    except pl.exceptions.PolarsError as error:
        raise InputError(f"{path}: unreadable rows ({first_line(error)})") from None


def read_segments(session: Path, columns: ColumnTypes, directory: str = SAMPLES_DIR,
                  files: list[pl.DataFrame] | None = None) -> pl.DataFrame:
    """Every part of `directory` in order as one table (`files`: the parts already read, when the caller has them)."""
    tables = files if files is not None else [read_segment(path, columns)
                                              for path in segment_files(session, directory)]
    if not tables:
        return to_session_types(pl.DataFrame(schema=journal_schema(columns)), columns)
    return pl.concat(tables, how="vertical")


def read_parquet(path: Path) -> pl.DataFrame:
    """A whole Parquet file: a regular file, its path taken literally (never a glob pattern)."""
    is_regular(path)
    try:
        return pl.read_parquet(path, glob=False)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise InputError(f"{path}: unreadable Parquet file ({first_line(error)})") from None


def compact(session: Path, columns: ColumnTypes, directory: str = SAMPLES_DIR,
            target_name: str = SAMPLES_PARQUET, row_group_rows: int | None = None) -> int:
    """Stream every segment into samples.parquet (or `target_name`), then remove the segments; the row count.

    `row_group_rows` bounds what a replay seek decodes: it reads whole row groups to take a slice."""
    parts: list[Path] = []
    for path in segment_files(session, directory):
        if path.suffix == ".journal":
            landed = path.with_suffix(".parquet")
            write_parquet_atomic(read_journal(path, columns), landed)
            path.unlink()
            path = landed
        parts.append(path)
    target = session / target_name
    if parts:
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            pl.scan_parquet(parts).sink_parquet(tmp, compression="zstd", row_group_size=row_group_rows)
        except (OSError, pl.exceptions.PolarsError) as error:
            raise InputError(f"{session}: cannot compact segments ({str(error).splitlines()[0]})") from None
        os.replace(tmp, target)
    elif not target.exists():
        write_parquet_atomic(read_segments(session, columns, directory), target, row_group_rows)
    remove_segments(session, directory)
    return pl.scan_parquet(target).select(pl.len()).collect().item()


def remove_segments(session: Path, directory: str = SAMPLES_DIR) -> None:
    folder = session / directory
    if folder.is_dir():
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
