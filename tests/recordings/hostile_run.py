"""Run every reader command on every hostile session of a corpus, in one process; one JSON line per run.

`python -m tests.recordings.hostile_run CORPUS OUT` (CORPUS as `hostile.build_corpus` makes it; OUT a
scratch directory for exports).  Each command runs in-process through `rigscope.cli.main` (the real
command line, without a process start per run); `replay` builds its app as the command does and runs it
under Textual's pilot (open at full speed, pause, seek to the end and back, step, the process pane, play);
`picker` lists the sessions as `rigscope replay` without a session does, and a last run shows the rows of
every case in the picker's app.  A run that takes longer than
`LIMIT_S` is stopped by an alarm and reported as hung; the test runs this module in a subprocess with
a timeout of its own as well.  Each line: case, command, exit code, stderr, the traceback of anything
that escaped (threads included), whether it hung, the files of the session it changed, and for
`repair` the sample rows readable before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import io
import json
import os
import signal
import stat
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from recordings.errors import InputError
from recordings.export import FORMATS
from recordings.timeline.write import KINDS
from rigscope.cli import main
from tests.recordings.hostile import METRIC

LIMIT_S = 10.0
EXPORTS = {**FORMATS, **KINDS}  # the samples' formats and the timeline's
# replay, ls and repair last: they may finish an interrupted session (replay and ls one whose recorder ran here);
# the others read it first, as it was left
FINISHERS = ("replay", "ls", "ls --json", "repair")
COMMANDS = ("report", *(f"export {kind}" for kind in EXPORTS), "analyze", "correlate", "compare", "picker", *FINISHERS)


class Hung(BaseException):
    """Raised by the alarm in whatever the run was doing (a BaseException: no `except Exception` hides it)."""


def _alarm(signum: int, frame: Any) -> None:
    raise Hung()


def tree_state(session: Path) -> dict[str, str]:
    """Every entry under the session without opening anything but regular files: content hashes, link
    targets, and the kind of everything else (a FIFO, a directory)."""
    state: dict[str, str] = {}
    for folder, names, files in os.walk(session):
        for name in [*names, *files]:
            path = Path(folder) / name
            mode = path.lstat().st_mode
            key = str(path.relative_to(session))
            if stat.S_ISLNK(mode):
                state[key] = f"link to {os.readlink(path)}"
            elif stat.S_ISREG(mode):
                state[key] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                state[key] = "directory" if stat.S_ISDIR(mode) else f"mode {stat.S_IFMT(mode):o}"
    return state


def sample_rows(session: Path) -> int:
    """Sample rows that a plain reading of the regular files finds (samples.parquet, else parts and journals)."""
    def rows(path: Path) -> int:
        if not path.is_file() or path.is_symlink():
            return 0
        try:
            if path.suffix == ".journal":
                return sum(1 for line in path.read_bytes().splitlines(keepends=True) if _journal_row(line))
            return pl.scan_parquet(path, glob=False).select(pl.len()).collect().item()
        except (OSError, pl.exceptions.PolarsError):
            return 0

    if (session / "samples.parquet").is_file():
        return rows(session / "samples.parquet")
    folder = session / "samples"
    parts = sorted(folder.iterdir()) if folder.is_dir() else []
    landed = {p.stem for p in parts if p.suffix == ".parquet"}
    return sum(rows(p) for p in parts if p.suffix == ".parquet" or (p.suffix == ".journal" and p.stem not in landed))


def _journal_row(line: bytes) -> bool:
    """A whole journal line that holds a row (an object with a `ts`)."""
    try:
        row = json.loads(line)
    except ValueError:
        return False
    return line.endswith(b"\n") and isinstance(row, dict) and isinstance(row.get("ts"), int)


def argv(command: str, session: Path, out: Path) -> list[str]:
    where = ["--dir", str(session.parent)]
    word, _, option = command.partition(" ")
    if word == "ls":
        return ["ls", *([option] if option else []), *where]
    if word == "export":
        return ["export", str(session), "--to", option, "--out", str(out / f"export{EXPORTS[option]}")]
    return {"report": ["report", str(session)],
            "analyze": ["analyze", str(session), "--out", str(out / "derived.parquet")],
            "correlate": ["correlate", str(session), METRIC],
            "compare": ["compare", str(session)],
            "repair": ["repair", str(session)]}[command]


async def drive_replay(session: Path) -> None:
    """`rigscope replay SESSION`'s app: open, let it play, seek, step, full speed, the process pane."""
    from recordings.session import resolve_session
    from rigscope.replay_command import replay_app

    session = resolve_session(str(session), session.parent)
    app, source = replay_app(session, session.parent, argparse.Namespace(speed=None, at=None, fps=4.0, ascii=False))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.1)  # plays at full speed through every row
            # What the keys do (space, end, home, shift+right, p, ->, space), called as the bindings call them:
            # a key press waits for the process to look idle, ten times longer.
            for action in ("play", "edge(1)", "edge(0)", "seconds(10)", "processes", "step(1)", "play"):
                await app.screen.run_action(action)
                await pilot.pause(0.02)
            await pilot.pause(0.05)
            assert app.is_running, "the replay app left by itself"
    finally:
        source.close()


def picker_rows(root: Path) -> list[dict[str, Any]]:
    """The rows `rigscope replay` without a session lists (each checked for opening), rendered as its table does."""
    from tui.picker import row_cells
    from tui.replay_source import SessionDirectory

    rows = SessionDirectory(root).list()
    for row in rows:
        row_cells(row)
    return rows


async def drive_picker(rows: list[dict[str, Any]]) -> None:
    """The picker's app on the rows of every case together: shown, filtered, moved through."""
    from tui.picker import PickerApp

    app = PickerApp(rows)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.press("down", "down", "x", "backspace", "end")
        await pilot.pause(0.05)


def as_cli(run: Callable[[], Any]) -> int:
    """What the command line does around a command: an InputError is one line and exit 1."""
    try:
        run()
    except InputError as error:
        print(f"rigscope: error: {error}", file=sys.stderr)
        return 1
    return 0


def run_one(command: str, session: Path, out: Path, run: Callable[[], Any] | None = None) -> dict[str, Any]:
    """One command on one session (or `run`, named `command`), under the alarm."""
    thread_errors: list[str] = []
    threading.excepthook = lambda hook: thread_errors.append(
        "".join(traceback.format_exception(hook.exc_type, hook.exc_value, hook.exc_traceback)))
    before = tree_state(session)
    rows_before = sample_rows(session) if command in FINISHERS else None
    stdout, stderr = io.StringIO(), io.StringIO()
    crash, hung, code = None, False, None
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, LIMIT_S)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            if run is not None:
                code = as_cli(run)
            elif command == "replay":
                code = as_cli(lambda: asyncio.run(drive_replay(session)))
            elif command == "picker":
                code = as_cli(lambda: picker_rows(session.parent))
            else:
                try:
                    code = main(argv(command, session, out))
                except SystemExit as stop:
                    code = int(stop.code or 0)
    except Hung:
        hung = True
    except BaseException:  # noqa: BLE001 (anything that escapes the command is what this looks for)
        crash = traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    after = tree_state(session)
    return {"command": command, "code": code, "stdout": stdout.getvalue()[-2000:], "stderr": stderr.getvalue()[-2000:],
            "hung": hung,
            "crash": crash or ("\n".join(thread_errors) or None), "seconds": round(time.monotonic() - started, 3),
            "changed": sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k)),
            "rows_before": rows_before, "rows_after": sample_rows(session) if command in FINISHERS else None}


def main_(corpus: Path, out: Path, cases: list[str]) -> None:
    signal.signal(signal.SIGALRM, _alarm)
    for case in cases:
        (session,) = (corpus / case).iterdir()
        for command in COMMANDS:
            result = run_one(command, session, out)
            print(json.dumps({"case": case, **result}), flush=True)
    rows = [row for case in cases for row in picker_rows(corpus / case)]
    result = run_one("picker app", corpus, out, lambda: asyncio.run(drive_picker(rows)))
    print(json.dumps({"case": "all", **result}), flush=True)


if __name__ == "__main__":
    corpus_dir, out_dir, *chosen = sys.argv[1:]
    main_(Path(corpus_dir), Path(out_dir), chosen or sorted(p.name for p in Path(corpus_dir).iterdir()))
