"""Whether this process can draw a dashboard: a capable terminal, or a browser (rigscope serve)."""

from __future__ import annotations

import os
import sys

from recordings.errors import InputError


def check_terminal() -> None:
    """InputError (one line) when stdout is not a terminal a dashboard can draw on."""
    if "web_driver" in os.environ.get("TEXTUAL_DRIVER", ""):  # rigscope serve: a browser is the terminal
        return
    term = os.environ.get("TERM", "")
    if term in ("", "dumb") or not sys.stdout.isatty():
        raise InputError(f"the dashboard needs a capable terminal (TERM={term or 'unset'}, "
                         f"{'a terminal' if sys.stdout.isatty() else 'output is not a terminal'}); "
                         "use 'rigscope record' to record without one")
