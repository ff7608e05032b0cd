"""Sample segments on disk: journals (flushed JSON lines) and Parquet parts, and compacting them.

`samples/part-NNNNNN.journal` holds the open segment's rows; when the segment
closes it becomes `part-NNNNNN.parquet` (written to a temp name, renamed) and
the journal is deleted.  A journal whose Parquet also exists is a leftover and
the Parquet wins.  A journal's last line may be cut by a crash: it is dropped.
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


def part_path(session: Path, number: int, suffix: str) -> Path:
    return session / SAMPLES_DIR / f"part-{number:06d}.{suffix}"


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


def write_parquet_atomic(table: pl.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    table.write_parquet(tmp, compression="zstd", statistics=True)
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def segment_files(session: Path) -> list[Path]:
    """Parts in order: each part's Parquet where it landed, else its journal."""
    directory = session / SAMPLES_DIR
    if not directory.is_dir():
        return []
    parts: dict[str, Path] = {}
    for path in sorted(directory.glob("part-*.*")):
        stem = path.name.split(".")[0]
        if path.suffix == ".parquet" or (path.suffix == ".journal" and stem not in parts):
            parts[stem] = path
    return [parts[stem] for stem in sorted(parts)]


def read_segment(path: Path, columns: ColumnTypes) -> pl.DataFrame:
    """One part, a journal or a landed Parquet file, typed as the session schema."""
    if path.suffix == ".journal":
        return read_journal(path, columns)
    return to_session_types(read_parquet(path), columns)


def read_segments(session: Path, columns: ColumnTypes, files: list[pl.DataFrame] | None = None) -> pl.DataFrame:
    """Every part in order as one table (`files`: the parts already read, when the caller has them)."""
    tables = files if files is not None else [read_segment(path, columns) for path in segment_files(session)]
    if not tables:
        return to_session_types(pl.DataFrame(schema=journal_schema(columns)), columns)
    return pl.concat(tables, how="vertical")


def read_parquet(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise InputError(f"{path}: unreadable Parquet file ({str(error).splitlines()[0]})") from None


def compact(session: Path, columns: ColumnTypes) -> int:
    """Stream every segment into samples.parquet, then remove the segments; returns the row count."""
    parts: list[Path] = []
    for path in segment_files(session):
        if path.suffix == ".journal":
            landed = path.with_suffix(".parquet")
            write_parquet_atomic(read_journal(path, columns), landed)
            path.unlink()
            path = landed
        parts.append(path)
    target = session / SAMPLES_PARQUET
    if parts:
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            pl.scan_parquet(parts).sink_parquet(tmp, compression="zstd")
        except (OSError, pl.exceptions.PolarsError) as error:
            raise InputError(f"{session}: cannot compact segments ({str(error).splitlines()[0]})") from None
        os.replace(tmp, target)
    elif not target.exists():
        write_parquet_atomic(read_segments(session, columns), target)
    remove_segments(session)
    return pl.scan_parquet(target).select(pl.len()).collect().item()


def remove_segments(session: Path) -> None:
    directory = session / SAMPLES_DIR
    if directory.is_dir():
        for path in directory.iterdir():
            path.unlink()
        directory.rmdir()
