"""A session's files read as untrusted input: regular files only, sizes and JSON nesting bounded.

A session directory may hold anything: a FIFO where a file should be (opening or reading it blocks
forever), a device behind a symlink (/dev/urandom or /dev/zero never end), a directory, a file far
larger than the format allows, JSON nested deeper than the parser's recursion limit, NaN and
Infinity where numbers belong.  Readers open files through these helpers, which turn each of these
into one `InputError` line (or, for a number that is no reading, None); never a hang or a traceback.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from recordings.errors import InputError

META_MAX_BYTES = 16 * 2**20  # a meta.json is a few kB; a day's summary and columns stay far below this
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
          (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))
_INT_RANGE = 2**63  # integers beyond 64 bits are no reading of anything rigscope records


def kind_of(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def is_regular(path: Path) -> bool:
    """True for a regular file (through symlinks), False when nothing is there; InputError for anything else."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return False
    except OSError as error:
        raise InputError(f"{path}: unreadable ({error.strerror or error})") from None
    if not stat.S_ISREG(mode):
        raise InputError(f"{path}: {kind_of(mode)}, not a file")
    return True


def require_regular(path: Path) -> None:
    """InputError unless `path` is a regular file: that nothing is there, or what is there instead."""
    if not is_regular(path):
        raise InputError(f"cannot read {path}: no such file")


def read_bytes(path: Path, limit: int | None = None) -> bytes:
    """The content of a regular file; FileNotFoundError when there is none.

    The file is looked at before it is opened, then opened without blocking and looked at again, so a
    FIFO or a device is refused even when it is put in place between the two.  InputError for anything
    but a regular file, or a file larger than `limit` bytes."""
    if not is_regular(path):
        raise FileNotFoundError(2, "No such file or directory", str(path))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise InputError(f"{path}: unreadable ({error.strerror or error})") from None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise InputError(f"{path}: {kind_of(status.st_mode)}, not a file")
        if limit is not None and status.st_size > limit:
            raise InputError(f"{path}: too large ({status.st_size} bytes; at most {limit})")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read() if limit is None else handle.read(limit + 1)
    except OSError as error:
        raise InputError(f"{path}: unreadable ({error.strerror or error})") from None
    finally:
        os.close(fd)
    if limit is not None and len(data) > limit:  # it grew after the check
        raise InputError(f"{path}: too large (more than {limit} bytes)")
    return data


def _no_reading(_: str) -> None:
    return None


def _finite(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def _bounded(text: str) -> int | None:
    value = int(text)
    return value if -_INT_RANGE <= value < _INT_RANGE else None


def loads(text: str | bytes, numbers: bool = True) -> Any:
    """A JSON value, NaN and ±Infinity as None (unknown is null, never a made-up reading); with `numbers`
    also floats beyond a double's range (1e400) and integers beyond 64 bits.

    ValueError for anything that is not JSON, nesting too deep for the parser included."""
    try:
        return (_CHECKED if numbers else _PLAIN).decode(text if isinstance(text, str) else text.decode("utf-8"))
    except RecursionError:
        raise ValueError("nested too deeply") from None


_CHECKED = json.JSONDecoder(parse_constant=_no_reading, parse_float=_finite, parse_int=_bounded)
_PLAIN = json.JSONDecoder(parse_constant=_no_reading)
