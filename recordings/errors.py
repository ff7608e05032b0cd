"""Errors about user input (files, sessions, values): the message is one line meant for the user."""


class InputError(Exception):
    """Bad input; its message is one line for the user."""


def first_line(error: BaseException) -> str:
    """The first line of a library's error message (polars' run over several), or the error's type."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def write_failure(error: BaseException) -> str:
    """What a failed write means, in a few words: `disk full` for ENOSPC however it is wrapped
    (polars reports it as a ComputeError), else the error's first line."""
    import errno

    if getattr(error, "errno", None) == errno.ENOSPC or "No space left on device" in str(error):
        return "disk full"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return first_line(error)
