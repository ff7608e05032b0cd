"""An import is written into a hidden staging directory and renamed into place, so a killed import
never leaves a half-written session; the staging directories of dead imports are found and removed.

A staging directory is `.import-<host>-<pid>-<random>` beside the sessions. Before the rename it
names the session directory it reserved (`TARGET`), so that an empty reservation left by a kill
between the two steps is removed with it.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

from recordings.errors import InputError
from recordings.session import pid_alive

PREFIX = ".import-"
TARGET = ".import-target"


def staging_dir(root: Path) -> Path:
    """A new, empty staging directory under `root` (made, with `root`, if need be)."""
    path = root / f"{PREFIX}{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        path.mkdir(parents=True)
    except OSError as error:
        raise InputError(f"cannot write a session into {root}: {error.strerror or error}") from None
    return path


def reserve(stage: Path, make: Callable[[], Path]) -> Path:
    """The session directory `make` creates (empty), named in `stage` so a killed import's is found again."""
    session = make()
    try:
        (stage / TARGET).write_text(session.name, encoding="utf-8")
    except OSError:
        session.rmdir()
        raise
    return session


def publish(stage: Path, session: Path) -> None:
    """Rename the finished `stage` over `session`, the empty directory reserved for it."""
    os.rename(stage, session)
    (session / TARGET).unlink(missing_ok=True)


def _owner_gone(stage: Path) -> bool:
    host, _, rest = stage.name[len(PREFIX):].rpartition("-")[0].rpartition("-")
    pid = int(rest) if rest.isdigit() else None
    return host == socket.gethostname() and not pid_alive(pid)


def leftovers(root: Path) -> list[Path]:
    """Staging directories under `root` whose import was killed on this host."""
    try:
        return sorted(p for p in root.iterdir() if p.name.startswith(PREFIX) and p.is_dir() and _owner_gone(p))
    except OSError:
        return []


def remove_leftovers(root: Path) -> list[Path]:
    """Remove the killed imports' staging directories (and the empty session directory each reserved)."""
    removed = []
    for stage in leftovers(root):
        try:
            target = root / (stage / TARGET).read_text(encoding="utf-8").strip()
        except OSError:
            target = None
        if target is not None and target.name and target.parent == root:
            try:
                target.rmdir()  # only when still empty
            except OSError:
                pass
        shutil.rmtree(stage, ignore_errors=True)
        removed.append(stage)
    return removed
