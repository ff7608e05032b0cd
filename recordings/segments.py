"""Sample segments on disk: journals (flushed JSON lines) and Parquet parts, and compacting them.

`samples/part-NNNNNN.journal` holds the open segment's rows; when the segment
closes it becomes `part-NNNNNN.parquet` (written to a temp name, renamed) and
the journal is deleted.  A journal whose Parquet also exists is a leftover and
the Parquet wins.  A journal's last line may be cut by a crash: it is dropped.  Any
other line that is no JSON object (a cut line a later write ended, the NULs a power
loss leaves, garbage) is skipped and counted, the good lines kept; a bare NaN or
±Infinity (an older recorder wrote them) reads as null.
Other tables of a session (the process rows) keep segments the same way, in a
directory of their own (`directory`) compacted into their own file (`target`).
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import polars as pl

from collectors.schema import ColumnTypes
from recordings.errors import InputError, first_line, write_failure
from recordings.events import skipped_warning
from recordings.frames import conform, journal_schema, polars_schema, to_session_types
from recordings.safe_files import is_regular, loads, read_bytes
from recordings.session import replacing

SAMPLES_DIR = "samples"
SAMPLES_PARQUET = "samples.parquet"
# Key-value metadata of a compacted file: what it holds, so a repair knows it is whole.
ROWS_KEY, FIRST_TS_KEY, LAST_TS_KEY = "rigscope.rows", "rigscope.first_ts_us", "rigscope.last_ts_us"


def part_path(session: Path, number: int, suffix: str, directory: str = SAMPLES_DIR) -> Path:
    return session / directory / f"part-{number:06d}.{suffix}"


def read_journal(path: Path, columns: ColumnTypes, warnings: list[str] | None = None) -> pl.DataFrame:
    """Rows of a journal, without a cut last line nor lines without a `ts`, typed as the session schema.

    Lines that are no JSON object are skipped with one warning for the journal: added to `warnings`
    when given, else written to stderr."""
    data = read_bytes(path)
    data = data[: data.rfind(b"\n") + 1]  # anything after the last newline is a cut line
    try:
        try:
            table = _rows(data, columns)
        except pl.exceptions.PolarsError:  # a line polars cannot parse: the good lines, read one by one
            data, skipped = _good_lines(data)
            if skipped:
                _warn(skipped_warning(path, skipped, "journal"), warnings)
            table = _rows(data, columns)
        return to_session_types(table, columns)
    except pl.exceptions.PolarsError as error:
        raise InputError(f"{path}: unreadable journal ({first_line(error)})") from None


def _warn(warning: str, warnings: list[str] | None) -> None:
    if warnings is None:
        print(f"rigscope: warning: {warning}", file=sys.stderr)
    else:
        warnings.append(warning)


def _rows(data: bytes, columns: ColumnTypes) -> pl.DataFrame:
    """The rows with a `ts` of JSON lines, in the journal's types (a value of another type is null)."""
    if not data.strip():
        return pl.DataFrame(schema=journal_schema(columns))
    table = pl.read_ndjson(io.BytesIO(data), schema=journal_schema(columns), ignore_errors=True)
    return table.filter(pl.col("ts").is_not_null())


def _good_lines(data: bytes) -> tuple[bytes, list[int]]:
    """Each line of `data` that holds a JSON object, written again (a bare NaN or ±Infinity as null), and the
    numbers of the lines that hold none (blank lines are neither).  NULs around a line (a power loss's) are no
    part of it."""
    good: list[str] = []
    skipped: list[int] = []
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            row = loads(line.strip(b"\0 \t\r"))
        except ValueError:
            row = None
        if isinstance(row, dict):
            good.append(json.dumps(row, separators=(",", ":")))
        else:
            skipped.append(number)
    return "\n".join(good).encode(), skipped


def write_parquet_atomic(table: pl.DataFrame, path: Path, row_group_rows: int | None = None) -> None:
    with replacing(path) as tmp:
        table.write_parquet(tmp, compression="zstd", statistics=True, row_group_size=row_group_rows)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())


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


def read_segment(path: Path, columns: ColumnTypes, warnings: list[str] | None = None) -> pl.DataFrame:
    """One part, a journal or a landed Parquet file, typed as the session schema (`warnings`: see `read_journal`)."""
    if path.suffix == ".journal":
        return read_journal(path, columns, warnings)
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


def compacted_range(path: Path) -> tuple[int, int | None, int | None]:
    """(rows, first ts µs, last ts µs) of a compacted file, as it records them of itself.

    Compaction publishes a file only once every row is in it (temp name, fsync, rename), with these
    figures in its Parquet key-value metadata; a file of an earlier version, published the same way
    without them, is measured.  A file that is unreadable or short of its own count is an error."""
    try:
        metadata = pl.read_parquet_metadata(path)
        rows = pl.scan_parquet(path, glob=False).select(pl.len()).collect().item()
        if ROWS_KEY not in metadata:
            return (rows, *_ts_range(pl.scan_parquet(path, glob=False)))
        recorded = int(metadata[ROWS_KEY])
        first, last = (int(metadata[key]) if metadata.get(key) else None for key in (FIRST_TS_KEY, LAST_TS_KEY))
    except (OSError, ValueError, pl.exceptions.PolarsError) as error:
        raise InputError(f"{path}: unreadable ({str(error).splitlines()[0]}); its segments are kept") from None
    if rows != recorded:
        raise InputError(f"{path}: holds {rows} rows of the {recorded} it records; its segments are kept")
    return rows, first, last


def _land_journals(session: Path, columns: ColumnTypes, directory: str, warnings: list[str] | None) -> list[Path]:
    """Every part as Parquet (a journal is landed first: written, renamed, then removed), in order."""
    parts: list[Path] = []
    for path in segment_files(session, directory):
        if path.suffix == ".journal":
            landed = path.with_suffix(".parquet")
            write_parquet_atomic(read_journal(path, columns, warnings), landed)
            path.unlink()
            path = landed
        parts.append(path)
    return parts


def _ts_range(scan: pl.LazyFrame) -> tuple[int | None, int | None]:
    ts = pl.col("ts").dt.epoch("us")
    first, last = scan.select(ts.min().alias("first"), ts.max().alias("last")).collect().row(0)
    return first, last


def _stream_into(parts: list[Path], target: Path, columns: ColumnTypes, row_group_rows: int | None) -> None:
    """Every part, in order, into `target` (temp name, fsync, rename), a row group at a time."""
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        if parts:
            scan = pl.scan_parquet(parts, glob=False)
        else:
            scan = to_session_types(pl.DataFrame(schema=journal_schema(columns)), columns).lazy()
        rows = scan.select(pl.len()).collect().item()
        first, last = _ts_range(scan)
        metadata = {ROWS_KEY: str(rows), FIRST_TS_KEY: "" if first is None else str(first),
                    LAST_TS_KEY: "" if last is None else str(last)}
        scan.sink_parquet(tmp, compression="zstd", row_group_size=row_group_rows, metadata=metadata)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except (OSError, pl.exceptions.PolarsError) as error:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{target.parent}: cannot compact segments ({write_failure(error, target.parent)})") from None


def _check_leftovers(parts: list[Path], target: Path, first: int | None, last: int | None) -> None:
    """Parts beside a complete file must hold nothing outside its time range: else they are not leftovers."""
    if not parts:
        return
    part_first, part_last = _ts_range(pl.scan_parquet(parts, glob=False))
    if part_first is None or part_last is None:  # both or neither: an empty part
        return
    if first is None or last is None or part_first < first or part_last > last:
        raise InputError(f"{target}: its segments hold rows outside it; nothing removed (move one aside to choose)")


def compact(session: Path, columns: ColumnTypes, directory: str = SAMPLES_DIR,
            target_name: str = SAMPLES_PARQUET, row_group_rows: int | None = None,
            warnings: list[str] | None = None) -> int:
    """Stream every segment into samples.parquet (or `target_name`), then remove the segments; the row count.

    The file is published before any segment is removed, so a kill at any point loses nothing: a complete
    file found beside segments (a close or repair killed while removing them) is kept and only the
    leftover segments go.  Running it again after a kill at any step gives the same file.
    `row_group_rows` bounds what a replay seek decodes: it reads whole row groups to take a slice.
    `warnings` takes the journals' skipped lines (see `read_journal`)."""
    target = session / target_name
    parts = _land_journals(session, columns, directory, warnings)
    if target.is_file():
        rows, first, last = compacted_range(target)
        _check_leftovers(parts, target, first, last)
    else:
        _stream_into(parts, target, columns, row_group_rows)
        rows = compacted_range(target)[0]
    remove_segments(session, directory)
    return rows


def remove_segments(session: Path, directory: str = SAMPLES_DIR) -> None:
    folder = session / directory
    if folder.is_dir():
        for path in folder.iterdir():
            if path.is_file() and path.name.startswith(("part-", ".part-")):
                path.unlink()
        if not any(folder.iterdir()):  # anything else in it is not ours to delete
            folder.rmdir()
