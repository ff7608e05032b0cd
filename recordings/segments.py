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
from recordings.errors import InputError
from recordings.frames import journal_schema, to_session_types

SAMPLES_DIR = "samples"
SAMPLES_PARQUET = "samples.parquet"


def part_path(session: Path, number: int, suffix: str, directory: str = SAMPLES_DIR) -> Path:
    return session / directory / f"part-{number:06d}.{suffix}"


def read_journal(path: Path, columns: ColumnTypes) -> pl.DataFrame:
    """Rows of a journal, without a cut last line, typed as the session schema."""
    data = path.read_bytes()
    data = data[: data.rfind(b"\n") + 1]  # anything after the last newline is a cut line
    if not data:
        return to_session_types(pl.DataFrame(schema=journal_schema(columns)), columns)
    try:
        table = pl.read_ndjson(io.BytesIO(data), schema=journal_schema(columns), ignore_errors=True)
    except pl.exceptions.PolarsError as error:
        raise InputError(f"{path}: unreadable journal ({error})") from None
    return to_session_types(table, columns)


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
    for path in sorted(folder.glob("part-*.*")):
        stem = path.name.split(".")[0]
        if path.suffix == ".parquet" or (path.suffix == ".journal" and stem not in parts):
            parts[stem] = path
    return [parts[stem] for stem in sorted(parts)]


def read_segment(path: Path, columns: ColumnTypes) -> pl.DataFrame:
    """One part, a journal or a landed Parquet file, typed as the session schema."""
    if path.suffix == ".journal":
        return read_journal(path, columns)
    return to_session_types(read_parquet(path), columns)


def read_segments(session: Path, columns: ColumnTypes, directory: str = SAMPLES_DIR,
                  files: list[pl.DataFrame] | None = None) -> pl.DataFrame:
    """Every part of `directory` in order as one table (`files`: the parts already read, when the caller has them)."""
    tables = files if files is not None else [read_segment(path, columns)
                                              for path in segment_files(session, directory)]
    if not tables:
        return to_session_types(pl.DataFrame(schema=journal_schema(columns)), columns)
    return pl.concat(tables, how="vertical")


def read_parquet(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise InputError(f"{path}: unreadable Parquet file ({str(error).splitlines()[0]})") from None


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
