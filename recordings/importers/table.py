"""Helpers the importers share: CSV read as text, numbers checked."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from recordings.errors import InputError


def read_text_csv(path: Path, has_header: bool = True, names: list[str] | None = None) -> pl.DataFrame:
    """Every column as text, cells stripped; short (torn) rows padded with nulls."""
    encoding = encoding_of(path)
    source: Path | io.BytesIO = path
    if encoding != "utf-8":
        source = io.BytesIO(path.read_text(encoding, errors="replace").encode())
    try:
        frame = pl.read_csv(source, infer_schema_length=0, has_header=has_header, new_columns=names,
                            truncate_ragged_lines=True, encoding="utf8-lossy")
    except (OSError, pl.exceptions.PolarsError) as error:
        raise InputError(f"cannot read {path}: {str(error).strip().splitlines()[0]}") from None
    frame = frame.rename({c: c.strip() for c in frame.columns})
    return frame.with_columns(pl.all().str.strip_chars())


def numbers(frame: pl.DataFrame, name: str, source: Path) -> pl.Expr:
    """The text column as Float64 (empty: null); a value that is not a number is an error."""
    text = frame[name]
    bad = text.cast(pl.Float64, strict=False).is_null() & text.is_not_null() & (text != "")
    if bad.any():
        raise InputError(f"{source}: column {name} holds {text.filter(bad)[0]!r}, not a number")
    return pl.col(name).cast(pl.Float64, strict=False)



def encoding_of(path: Path) -> str:
    """`utf-16` or `utf-8-sig` for a file with that byte-order mark, else `utf-8`."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(3)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    return "utf-8-sig" if head == b"\xef\xbb\xbf" else "utf-8"


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The file's lines with their own 1-based numbers, decoded (BOM, UTF-16, CRLF) and right-stripped."""
    try:
        with open(path, encoding=encoding_of(path), errors="replace", newline=None) as handle:
            for number, line in enumerate(handle, 1):
                yield number, line.rstrip("\r\n")
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None
