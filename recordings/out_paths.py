"""Where and how a command writes what it makes: never over the sessions it reads (`report --out`,
`report --group --out`, `export --out` onto a session's own samples.parquet destroyed it), and a file
whole or not at all."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from collectors.wire import encodable
from recordings.errors import InputError


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


def _written_into(path: Path) -> bool:
    """Whether `path` is a pipe or a device (`/dev/stdout`, `/dev/null`): written into, never replaced by a file."""
    return path.exists() and not path.is_file() and not path.is_dir()


@contextlib.contextmanager
def whole_output(path: Path, parents: bool = True) -> Iterator[IO[bytes]]:
    """`path` opened to be written whole or not at all, as `write_output`, for a writer that streams: renamed
    into place once the block ends, the temp file removed when it raises (`parents`: its folder made first when
    missing).  OSError as the system raises it."""
    if _written_into(path):
        with open(path, "wb") as handle:
            yield handle
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")  # one per writer, so two
    try:  # writers of one path at once each rename a whole file
        if parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "xb") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def write_output(path: Path, text: str) -> None:
    """`text` to `path` through `whole_output` (a temp name of its own renamed over it; a pipe or a device written
    into); a failure is one line (InputError), nothing left beside `path`."""
    try:
        with whole_output(path) as handle:
            handle.write(encodable(text).encode("utf-8"))
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None
