"""`rigscope` and `rigscope demo`: the live dashboard, recording the session unless --no-record."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from typing import Any

from recordings.session import sessions_dir
from rigscope.config import load_presets
from rigscope.record_command import check_http, config_from_args
from rigscope.terminal import check_terminal, tell

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


def offer_attach(args: argparse.Namespace) -> str | None:
    """A recorder of this user already runs: the socket to attach to when the user says yes (asked on a
    terminal; otherwise one line says how, and a second sampler starts).  None: start a new one."""
    from rigscope.local_channel import live_attach_points

    running = [] if args.new or args.command == "demo" else live_attach_points()
    if not running:
        return None
    session, path = running[0]
    if not sys.stdin.isatty():
        print(f"rigscope: note: recorder {session} already runs; rigscope attach {session} shows it without "
              "sampling twice (--new hides this)", file=sys.stderr)
        return None
    answer = input(f"rigscope: recorder {session} already runs. Attach to it instead of sampling twice? "
                   "[Y/n] (--new skips this) ")
    return path if answer.strip().lower() in ("", "y", "yes") else None


def run_dashboard(args: argparse.Namespace) -> int:
    check_terminal()
    attach_to = offer_attach(args)
    if attach_to is not None:
        from rigscope.attach_command import attach

        return attach(attach_to, args)
    config = config_from_args(args, record=not args.no_record, attach=False)
    check_http(config)
    presets = load_presets()  # a bad settings file stops here, before a session is opened and left recording
    from rigscope.app_factory import build_app
    from rigscope.live import LiveSource

    source = LiveSource(config, fps=args.fps, waiting=lambda message: tell(f"rigscope: {message}"))  # screen not taken yet
    app = build_app(source, fps=args.fps, ascii_only=args.ascii, presets=presets,
                    sessions_dir=sessions_dir(args.dir), readonly=args.readonly)
    for hangup in (signal.SIGHUP, signal.SIGTERM):  # ssh dropped, or killed politely: close the session
        signal.signal(hangup, lambda *_: hang_up(app, source))
    try:
        app.run()
    finally:  # after `q` this is the message of that close; after a crash or a signal it closes the session
        message = source.close()
    print(message, file=sys.stderr)
    return 0
