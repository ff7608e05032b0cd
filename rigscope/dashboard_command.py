"""`rigscope` and `rigscope demo`: the live dashboard, recording the session unless --no-record."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from typing import Any

from recordings.errors import InputError
from recordings.session import sessions_dir
from rigscope.config import load_presets
from rigscope.record_command import check_http, config_from_args


def check_terminal() -> None:
    term = os.environ.get("TERM", "")
    if term in ("", "dumb") or not sys.stdout.isatty():
        raise InputError(f"the dashboard needs a capable terminal (TERM={term or 'unset'}, "
                         f"{'a terminal' if sys.stdout.isatty() else 'output is not a terminal'}); "
                         "use 'rigscope record' to record without one")


HANGUP_GRACE_S = 10.0


def hang_up(app: Any, source: Any, grace_s: float = HANGUP_GRACE_S) -> None:
    """The terminal went away (ssh dropped) or a polite kill: the app is asked to leave, and the session
    is closed whatever happens to that. Once, Textual's shutdown waited forever on its writer thread
    with the terminal gone, and the process went on recording for an hour; after `grace_s` the
    session is closed from here and the process leaves."""
    app.exit()
    threading.Thread(target=_leave_after, args=(source, grace_s), name="rigscope-hangup", daemon=True).start()


def _leave_after(source: Any, grace_s: float) -> None:
    time.sleep(grace_s)
    try:
        message = source.close()  # waits for a close already under way
        print(message, file=sys.stderr)
    finally:
        os._exit(0)


def run_dashboard(args: argparse.Namespace) -> int:
    check_terminal()
    config = config_from_args(args, record=not args.no_record)
    check_http(config)
    from rigscope.app_factory import build_app
    from rigscope.live import LiveSource

    source = LiveSource(config, fps=args.fps)
    app = build_app(source, fps=args.fps, ascii_only=args.ascii, presets=load_presets(),
                    sessions_dir=sessions_dir(args.dir), readonly=args.readonly)
    for hangup in (signal.SIGHUP, signal.SIGTERM):  # ssh dropped, or killed politely: close the session
        signal.signal(hangup, lambda *_: hang_up(app, source))
    try:
        app.run()
    finally:  # after `q` this is the message of that close; after a crash or a signal it closes the session
        message = source.close()
    print(message, file=sys.stderr)
    return 0
