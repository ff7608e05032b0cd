"""Errors about user input (files, sessions, values): the message is one line meant for the user."""

import errno
import os

ALMOST_FULL_BYTES = 64 * 1024  # a disk with less room than this is full for a writer of Parquet parts


class InputError(Exception):
    """Bad input; its message is one line for the user."""


def first_line(error: BaseException) -> str:
    """The first line of a library's error message (polars' run over several), or the error's type."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def is_io_error(error: BaseException) -> bool:
    """An error of the disk or file system (as opposed to one about the data): an OSError, or a library's error
    wrapping one (polars reports a full disk or a refused file as `... (os error 28)`)."""
    return isinstance(error, OSError) or "(os error " in str(error)


def write_failure(error: BaseException, where: str | os.PathLike[str] | None = None) -> str:
    """What a failed write means, in a few words: `disk full` for ENOSPC however it is wrapped (polars
    reports it as a ComputeError, or as a broken file when the footer did not fit), else the first line.

    `where`: a path on the disk written to; when it has almost no room left, the failure is a full disk."""
    if getattr(error, "errno", None) == errno.ENOSPC or "No space left on device" in str(error):
        return "disk full"
    if where is not None and _almost_full(where):
        return f"disk full ({first_line(error)})"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return first_line(error)


def _almost_full(where: str | os.PathLike[str]) -> bool:
    try:
        disk = os.statvfs(where)
    except OSError:
        return False
    return disk.f_bavail * disk.f_frsize < ALMOST_FULL_BYTES
