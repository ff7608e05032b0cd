"""`rigscope attach [SESSION|latest]`: the dashboard on a running recorder of this user; `q` detaches."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recordings.session import sessions_dir
from rigscope.attach_client import find_attach_point
from rigscope import options
from rigscope.config import load_presets
from rigscope.dashboard_command import check_terminal


def add_parser(commands: argparse._SubParsersAction, example: str) -> None:
    attach = commands.add_parser("attach", help="the dashboard on a running recorder (q detaches, it goes on)",
                                 epilog=example)
    attach.add_argument("session", nargs="?", help="session id, prefix or path of a running recorder, or latest "
                                                   "(default: your newest running recorder)")
    attach.add_argument("--dir", help="sessions directory, for o (default: the attached session's)")
    attach.add_argument("--fps", type=options.fps, default=2.0, help="screen redraws per second (default 2)")
    attach.add_argument("--ascii", action="store_true", help="ASCII sparklines")
    attach.add_argument("--readonly", action="store_true", help="k and r are off (rigscope serve's default)")




def run(args: argparse.Namespace) -> int:
    _, path = find_attach_point(args.session)
    check_terminal()
    return attach(path, args)


def attach(path: str, args: argparse.Namespace) -> int:
    """The dashboard on the recorder at `path` until `q` (the live dashboard's offer comes here too)."""
    from rigscope.attach_source import AttachSource
    from tui.attach_app import AttachApp
    from tui.replay_source import SessionDirectory

    source = AttachSource(path, readonly=args.readonly)
    root = Path(args.dir) if args.dir else (source.folder.parent if source.folder else sessions_dir(None))
    app = AttachApp(source, fps=args.fps, ascii_only=args.ascii, presets=load_presets(),
                    sessions=SessionDirectory(root), readonly=args.readonly)
    try:
        app.run()
    finally:
        message = source.close()
    print(message, file=sys.stderr)
    return 0
