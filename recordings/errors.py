"""Errors about user input (files, sessions, values): the message is one line meant for the user."""


class InputError(Exception):
    """Bad input; its message is one line for the user."""


def first_line(error: BaseException) -> str:
    """The first line of a library's error message (polars' run over several), or the error's type."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
