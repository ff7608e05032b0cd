"""`rigscope replay`: the dashboard on a recorded session, or a picker to choose one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from recordings.errors import InputError
from recordings.inert import inert
from recordings.repair import compact_if_abandoned
from recordings.replay_player import check_at
from recordings.session import resolve_session, sessions_dir
from rigscope.terminal import check_terminal, tell
from tui.replay_source import ReplaySource, SessionDirectory

if TYPE_CHECKING:
    from tui.app import RigscopeApp


def replay_app(session: Path, root: Path, args: argparse.Namespace) -> tuple[RigscopeApp, ReplaySource]:
    """The replay app on `session` as `rigscope replay` runs it (`args`: speed, at, fps, ascii); InputError if
    the session cannot be opened.  The caller closes the source when the app has ended."""
    return app_on(open_replay(session, args, say=True), root, args)  # said before the screen is taken


def open_replay(session: Path, args: argparse.Namespace, say: bool = False) -> ReplaySource:
    """A replay source on `session` at `args.speed` and `args.at`, an interrupted one compacted first (`say`: that
    is told on stderr; not while the picker holds the screen); InputError if the session cannot be read."""
    said = compact_if_abandoned(session)
    source = ReplaySource(session, speed=args.speed, at=args.at)  # a session that cannot open: its error alone
    if said and say:
        tell(f"rigscope: {inert(session.name)}: {said}")
    else:
        source.compacted = said  # the picker holds the screen: the replay says it
    return source


def app_on(source: ReplaySource, root: Path, args: argparse.Namespace) -> tuple[RigscopeApp, ReplaySource]:
    from rigscope.app_factory import build_app
    from tui.format import clock

    if source.started_past_end:
        print(f"rigscope: warning: --at {args.at} is past the end ({clock(source.reader.duration_s)}): "
              "starting at the end", file=sys.stderr)
    return build_app(source, replay=True, fps=args.fps, ascii_only=args.ascii, sessions_dir=root), source


def run_replay(args: argparse.Namespace) -> int:
    try:
        check_at(args.at)  # a wrong flag, as argparse says one: before the terminal and the session
    except InputError as error:
        print(f"rigscope: error: {error}", file=sys.stderr)
        return 2
    check_terminal()
    root = sessions_dir(args.dir)
    if args.session:
        app, source = replay_app(resolve_session(args.session, root), root, args)
    else:
        from tui.picker import PickerApp

        rows = SessionDirectory(root).list()
        if not rows:
            raise InputError(f"no sessions in {root}")
        chosen = PickerApp(rows, lambda session: open_replay(session, args)).run()  # a damaged one: it stays
        if chosen is None:
            return 0
        app, source = app_on(chosen, root, args)
    try:
        message = app.run()
    finally:
        source.close()
    if message:
        print(message, file=sys.stderr)
    return 0
