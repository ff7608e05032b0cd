"""`note`, `tag`, `repair` and `analyze`: commands that act on a recorded or running session."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from collectors.event_kinds import EventKind
from collectors.event_parse import NOTE_CAP, cut, now_iso
from collectors.receiver import send_event
from recordings.errors import InputError
from recordings.events import EVENTS, append_event
from recordings.inert import inert
from recordings.session import chosen_dir, read_meta, resolve_session, session_status, sessions_dir
from rigscope.local_channel import SESSION_ENV, find_recorder, live_recorders


def _picked(args: argparse.Namespace) -> str | None:
    """The session asked for: --session, else $RIGSCOPE_SESSION (set by `rigscope run` for its child)."""
    return args.session or os.environ.get(SESSION_ENV) or None


def _recorder_of(picked: str, root: Path) -> tuple[str, str] | None:
    """The running recorder (of this user) of the picked session: its id or path (wherever it writes),
    else an id prefix or latest in --dir."""
    exact = find_recorder(Path(picked).name, recording=True)
    if exact is not None:
        return exact
    try:
        return find_recorder(resolve_session(picked, root).name, recording=True)
    except InputError:
        return None


def _socket_of(session: Path) -> str | None:
    """The event socket a session's recorder listens on, as its meta.json says (two folders may hold
    sessions of one id); None for no such session."""
    try:
        monitoring = read_meta(session).get("monitoring")
    except InputError:
        return None
    return monitoring.get("event_socket") if isinstance(monitoring, dict) else None


def _newest_recorder(root: Path | None) -> tuple[tuple[str, str] | None, str]:
    """This user's newest running recorder (with `root`, the --dir or $RIGSCOPE_DIR given: of those recording
    into it), and a remark naming the others when there are several."""
    running = live_recorders(recording=True)
    if root is not None:
        running = [(name, path) for name, path in running if _socket_of(root / name) == path]
    if len(running) < 2:
        return (running[0] if running else None), ""
    names = ", ".join(inert(name) for name, _ in running)
    return running[0], (f" (the newest of {len(running)} running: {names}; "
                        f"pick one with --session or {SESSION_ENV})")


def _recording(session: Path) -> bool:
    """Whether the session is still being recorded, here or by another host's recorder into a shared folder (as `ls`
    says); False for a meta.json analyze can do without."""
    try:
        return session_status(read_meta(session), session) == "recording"
    except InputError:
        return False


def note(args: argparse.Namespace) -> int:
    root = sessions_dir(args.dir)
    picked = _picked(args)
    recorder, remark = (_recorder_of(picked, root), "") if picked else _newest_recorder(root if chosen_dir(args.dir) else None)
    event = {"ts": now_iso(), "kind": EventKind.NOTE, "text": cut(args.text, NOTE_CAP), "source": "cli"}  # as a recorder cuts it
    if recorder is not None and send_event(recorder[1], event):
        print(f"note added to running session {inert(recorder[0])}{remark}")
        return 0
    session = resolve_session(picked, root)
    try:
        append_event(session / EVENTS, event)
    except OSError as error:
        raise InputError(f"cannot add the note to {session}: {error.strerror or error}") from None
    print(f"note added to session {inert(session.name)} (not running)")
    return 0


def tag(args: argparse.Namespace) -> int:
    root = sessions_dir(args.dir)
    picked = _picked(args)
    recorder, remark = (_recorder_of(picked, root), "") if picked else _newest_recorder(root if chosen_dir(args.dir) else None)
    if recorder is None:
        where = f"session {inert(picked)} is not running" if picked else "no running session of yours"
        raise InputError(f"{where} (a tag steers a live recording)")
    event = {"ts": now_iso(), "kind": EventKind.TAG, "state": args.state, "source": "cli"}
    if not send_event(recorder[1], event):
        raise InputError(f"session {inert(recorder[0])} did not take the tag (it may have just ended)")
    print(f"tagged {inert(recorder[0])}: {inert(args.state)}{remark}")
    return 0


def repair(args: argparse.Namespace) -> int:
    from recordings.repair import repair_session

    session = resolve_session(args.session, sessions_dir(args.dir))
    result = repair_session(session, force=args.force)
    print(f"{session.name}: {result}")
    return 0


def analyze(args: argparse.Namespace) -> int:
    from recordings.analyze import OUTPUT_FORMATS
    from recordings.analyze import analyze as run_analyze

    source = Path(args.input)
    if not source.is_file() and source.suffix.lower() not in OUTPUT_FORMATS:  # a missing samples file: said as such
        source = resolve_session(args.input, sessions_dir(args.dir))
    summary = run_analyze(source, Path(args.out), Path(args.events) if args.events else None)
    if source.is_dir() and _recording(source):
        print(f"rigscope: {inert(source.name)} is still recording: derived from its samples so far", file=sys.stderr)
    json.dump(summary, sys.stdout, indent=1, default=str)
    print()
    return 0
