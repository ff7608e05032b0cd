"""`rigscope replay`: the dashboard on a recorded session, or a picker to choose one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from recordings.errors import InputError
from recordings.session import resolve_session, sessions_dir
from rigscope.dashboard_command import check_terminal
from rigscope.replay_source import ReplaySource, SessionDirectory

if TYPE_CHECKING:
    from tui.app import RigscopeApp


def start_offset(at: str | None, reader: object) -> float | None:
    """--at as the replay's first position (None: the start), read as `g` reads it with the position at the
    start: `+10m` and `10m` are both ten minutes in. Past the end: the end, said on stderr."""
    if not at:
        return None
    from collectors.timeutil import iso_from_us
    from tui.format import clock
    from tui.replay_screen import GOTO_FORMS, parse_goto

    try:
        kind, value = parse_goto(at, 0.0, iso_from_us(reader.ts_us[0]))  # type: ignore[attr-defined]
    except ValueError:
        raise InputError(f"--at {at}: not a time; {GOTO_FORMS}") from None
    if kind == "ts":
        return reader.elapsed[reader.index_at_ts(int(value))]  # type: ignore[attr-defined]
    duration = reader.duration_s  # type: ignore[attr-defined]
    if value > duration:
        print(f"rigscope: warning: --at {at} is past the end ({clock(duration)}): starting at the end", file=sys.stderr)
    return reader.elapsed[0] + min(value, duration)  # type: ignore[attr-defined]


def replay_app(session: Path, root: Path, args: argparse.Namespace) -> tuple[RigscopeApp, ReplaySource]:
    """The replay app on `session` as `rigscope replay` runs it (`args`: speed, at, fps, ascii); InputError if
    the session cannot be opened.  The caller closes the source when the app has ended."""
    from recordings.replay import ReplayReader
    from rigscope.app_factory import build_app

    probe = ReplayReader(session)
    source = ReplaySource(session, speed=args.speed, at_s=start_offset(args.at, probe))
    return build_app(source, replay=True, fps=args.fps, ascii_only=args.ascii, sessions_dir=root), source


def run_replay(args: argparse.Namespace) -> int:
    check_terminal()
    root = sessions_dir(args.dir)
    if args.session:
        session = resolve_session(args.session, root)
    else:
        from tui.picker import PickerApp

        rows = SessionDirectory(root).list()
        if not rows:
            raise InputError(f"no sessions in {root}")
        chosen = PickerApp(rows).run()
        if not chosen:
            return 0
        session = Path(chosen)
    app, source = replay_app(session, root, args)
    try:
        message = app.run()
    finally:
        source.close()
    if message:
        print(message, file=sys.stderr)
    return 0
