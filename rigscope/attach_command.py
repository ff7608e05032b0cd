"""`rigscope attach [SESSION|latest]`: the dashboard on a running recorder of this user; `q` detaches."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recordings.session import sessions_dir
from rigscope.attach_client import find_attach_point
from rigscope.config import load_presets
from rigscope.terminal import check_terminal


def run(args: argparse.Namespace) -> int:
    _, path = find_attach_point(args.session)
    check_terminal()
    return attach(path, args)


def attach(path: str, args: argparse.Namespace) -> int:
    """The dashboard on the recorder at `path` until `q` (the live dashboard's offer comes here too)."""
    from recordings.repair import compact_if_abandoned
    from rigscope.attach_source import AttachSource
    from tui.attach_app import AttachApp
    from tui.replay_source import SessionDirectory

    source = AttachSource(path, readonly=args.readonly)
    root = Path(args.dir) if args.dir else (source.folder.parent if source.folder else sessions_dir(None))
    app = AttachApp(source, fps=args.fps, ascii_only=args.ascii, presets=load_presets(),
                    sessions=SessionDirectory(root, None if args.readonly else compact_if_abandoned),  # read-only: writes nothing
                    readonly=args.readonly)
    try:
        app.run()
    finally:
        message = source.close()
    print(message, file=sys.stderr)
    return 0
