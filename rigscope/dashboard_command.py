"""`rigscope` and `rigscope demo`: the live dashboard, recording the session unless --no-record."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from recordings.errors import InputError
from recordings.session import sessions_dir
from rigscope.config import load_presets
from rigscope.record_command import config_from_args


def check_terminal() -> None:
    term = os.environ.get("TERM", "")
    if term in ("", "dumb") or not sys.stdout.isatty():
        raise InputError(f"the dashboard needs a capable terminal (TERM={term or 'unset'}, "
                         f"{'a terminal' if sys.stdout.isatty() else 'output is not a terminal'}); "
                         "use 'rigscope record' to record without one")


def run_dashboard(args: argparse.Namespace) -> int:
    check_terminal()
    config = config_from_args(args, record=not args.no_record)
    from rigscope.live import LiveSource
    from rigscope.replay_source import SessionDirectory
    from tui.app import RigscopeApp

    source = LiveSource(config, fps=args.fps)
    app = RigscopeApp(source, fps=args.fps, ascii_only=args.ascii, presets=load_presets(),
                      sessions=SessionDirectory(sessions_dir(args.dir)), readonly=args.readonly)
    for hangup in (signal.SIGHUP, signal.SIGTERM):  # ssh dropped, or killed politely: close the session
        signal.signal(hangup, lambda *_: app.exit())
    message = None
    try:
        message = app.run()
    finally:
        if not source.closed:  # the app ended without `q` (a crash, a signal): still close the session
            message = source.close()
    if message:
        print(message, file=sys.stderr)
    return 0
