"""Where a command may write what it makes: never over the sessions it reads (`report --out`,
`report --group --out`, `export --out` onto a session's own samples.parquet destroyed it)."""

from __future__ import annotations

import os
from pathlib import Path


def overwrite_risk(sessions: list[Path], targets: list[Path]) -> str | None:
    """Why writing `targets` would destroy one of `sessions` (one line), None when it would not: a target inside
    a session's folder (real paths compared: symlinks and relative paths resolved), or the same file as one of
    its files (a hard link, a symlink out of the folder)."""
    for session in sessions:
        folder = session.resolve()
        inputs = {(st.st_dev, st.st_ino) for path in folder.rglob("*") if (st := _stat(path)) is not None}
        for target in targets:
            real = target.resolve()
            if real.is_relative_to(folder):
                return f"{target} is inside the session {session.name}: write it elsewhere"
            st = _stat(real)
            if st is not None and (st.st_dev, st.st_ino) in inputs:
                return f"{target} is one of the files of the session {session.name}: write it elsewhere"
    return None


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except OSError:
        return None
