"""`note`, `tag`, `repair` and `analyze`: commands that act on a recorded or running session."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from collectors.receiver import now_iso, send_event
from recordings.errors import InputError
from recordings.events import EVENTS, append_event
from recordings.session import is_running, list_sessions, read_meta, resolve_session, sessions_dir


def _running_session(root: Path) -> Path | None:
    for session in reversed(list_sessions(root)):
        try:
            if is_running(read_meta(session)):
                return session
        except InputError:
            continue
    return None


def _deliver(session: Path, event: dict) -> bool:
    """Send an event to the recorder that holds `session`; False when it is not running or did not answer."""
    meta = read_meta(session)
    port = (meta.get("monitoring") or {}).get("event_port")
    return bool(is_running(meta) and port and send_event(int(port), event))


def note(args: argparse.Namespace) -> int:
    root = sessions_dir(args.dir)
    session = resolve_session(args.session, root) if args.session else (_running_session(root) or resolve_session(None, root))
    event = {"ts": now_iso(), "kind": "note", "text": args.text, "source": "cli"}
    if _deliver(session, event):
        print(f"note added to running session {session.name}")
    else:
        append_event(session / EVENTS, event)
        print(f"note added to session {session.name} (not running)")
    return 0


def tag(args: argparse.Namespace) -> int:
    root = sessions_dir(args.dir)
    session = resolve_session(args.session, root) if args.session else _running_session(root)
    if session is None:
        raise InputError(f"no running session in {root} to tag")
    event = {"ts": now_iso(), "kind": "tag", "state": args.state, "source": "cli"}
    if not _deliver(session, event):
        raise InputError(f"session {session.name} is not running (a tag steers a live recording)")
    print(f"tagged {session.name}: {args.state}")
    return 0


def repair(args: argparse.Namespace) -> int:
    from recordings.repair import repair_session

    session = resolve_session(args.session, sessions_dir(args.dir))
    result = repair_session(session, force=args.force)
    print(f"{session.name}: {result}")
    return 0


def analyze(args: argparse.Namespace) -> int:
    from recordings.analyze import analyze as run_analyze

    source = Path(args.input)
    if not source.is_file():
        source = resolve_session(args.input, sessions_dir(args.dir))
    summary = run_analyze(source, Path(args.out), Path(args.events) if args.events else None)
    json.dump(summary, sys.stdout, indent=1, default=str)
    print()
    return 0


COMMANDS = {"note": note, "tag": tag, "repair": repair, "analyze": analyze}


def run(args: argparse.Namespace) -> int:
    return COMMANDS[args.command](args)
