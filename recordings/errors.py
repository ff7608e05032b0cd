"""Errors about user input (files, sessions, values): the message is one line meant for the user."""


class InputError(Exception):
    """Bad input; its message is one line for the user."""
