"""Helpers the importers share: CSV read as text, numbers checked."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from recordings.errors import InputError

LINE = "_line"  # the file's own 1-based line number of each row (the header is line 1)


def read_text_csv(path: Path) -> tuple[pl.DataFrame, int | None]:
    """Every column as text, cells stripped, with each row's line number; short rows padded with nulls.

    A last line cut short (no newline, fewer fields than the header: the writer was stopped) is
    left out; its line number comes back beside the frame."""
    encoding = encoding_of(path)
    source: Path | io.BytesIO = path
    if encoding != "utf-8":
        source = io.BytesIO(path.read_text(encoding, errors="replace").encode())
    try:
        frame = pl.read_csv(source, infer_schema_length=0, truncate_ragged_lines=True, encoding="utf8-lossy",
                            glob=False)  # a path is taken literally, never a pattern
    except (OSError, pl.exceptions.PolarsError) as error:
        raise InputError(f"cannot read {path}: {str(error).strip().splitlines()[0]}") from None
    frame = frame.rename({c: c.strip() for c in frame.columns})
    frame = frame.with_columns(pl.all().str.strip_chars(" \t\r\n\0\ufeff")  # \0: a power loss's padding; a BOM
                               ).with_row_index(LINE, offset=2)
    torn = None
    if frame.height and _torn_tail(path, encoding, len(frame.columns) - 1):
        torn = int(frame[LINE][-1])
        frame = frame.head(-1)
    return frame, torn


def _torn_tail(path: Path, encoding: str, width: int) -> bool:
    with open(path, "rb") as handle:
        handle.seek(max(handle.seek(0, io.SEEK_END) - 65536, 0))
        tail = handle.read().decode(encoding if encoding != "utf-8-sig" else "utf-8", errors="replace")
    if tail.endswith(("\n", "\r")):
        return False
    last = tail.rsplit("\n", 1)[-1]
    return len(next(csv.reader([last]), [])) < width


def not_numbers(text: pl.Series) -> pl.Series:
    """Where the text column holds something that is not a number (empty cells are nulls, not this)."""
    return (text.cast(pl.Float64, strict=False).is_null() & text.is_not_null() & (text != "")).fill_null(False)


def numbers(name: str) -> pl.Expr:
    """The text column as Float64 (empty: null); rows of text that is no number are skipped before."""
    return pl.col(name).cast(pl.Float64, strict=False)


def encoding_of(path: Path) -> str:
    """`utf-16` or `utf-8-sig` for a file with that byte-order mark, else `utf-8`."""
    try:
        with open(path, "rb") as handle:
            return encoding_of_head(handle.read(3))
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None


def encoding_of_head(head: bytes) -> str:
    """The encoding `encoding_of` names, from the first bytes of a file already read."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    return "utf-8-sig" if head[:3] == b"\xef\xbb\xbf" else "utf-8"


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The file's lines with their own 1-based numbers, decoded (BOM, UTF-16, CRLF) and right-stripped, without
    zero bytes (a power loss pads a file with them where its last writes were) and without the byte-order
    mark a logger that appends with utf-8-sig writes at each start."""
    try:
        with open(path, encoding=encoding_of(path), errors="replace", newline=None) as handle:
            for number, line in enumerate(handle, 1):
                yield number, line.rstrip("\r\n").replace("\0", "").lstrip("\ufeff")
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None


def first_line(path: Path) -> str:
    """The file's first line that is not blank (a script may write an empty one before its logger starts)."""
    return next((line for _, line in text_lines(path) if line.strip()), "")
