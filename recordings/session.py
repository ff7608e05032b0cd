"""Session directories and their `meta.json` (spec: SESSION_FORMAT).

Creates a session with a unique id, writes its metadata atomically (a temp file
renamed over the old one), and finds sessions by id, unique id prefix,
`latest`, or path.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recordings.errors import InputError
from recordings.safe_files import META_MAX_BYTES, loads, read_bytes

FORMAT = "rigscope-session/1"
META = "meta.json"
STALE_AFTER_S = 30.0  # a recorder on another host whose files are older than this is taken for dead
AMBIGUOUS_SHOWN = 10  # matches named in the error of an ambiguous id prefix


def user_data_dir() -> Path:
    """This platform's per-user data directory: $XDG_DATA_HOME or ~/.local/share (Linux and other Unix),
    ~/Library/Application Support (macOS), %LOCALAPPDATA% (Windows)."""
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def default_sessions_dir() -> Path:
    """Where sessions go without `--dir` or `$RIGSCOPE_DIR`: one place per user, wherever rigscope is started."""
    return user_data_dir() / "rigscope" / "sessions"


def chosen_dir(explicit: str | os.PathLike[str] | None = None) -> str | None:
    """`--dir`, else `$RIGSCOPE_DIR`: the sessions directory the user chose; None where neither is given."""
    return os.fspath(explicit) if explicit else os.environ.get("RIGSCOPE_DIR") or None


def dir_template(explicit: str | os.PathLike[str] | None = None) -> str:
    """`--dir`, else `$RIGSCOPE_DIR`, else the user's data directory, with any `{host}` and `{date}` left in."""
    return chosen_dir(explicit) or os.fspath(default_sessions_dir())


def sessions_dir(explicit: str | os.PathLike[str] | None = None, now: datetime | None = None,
                 host: str | None = None) -> Path:
    """`--dir`, else `$RIGSCOPE_DIR`, else the user's data directory (`default_sessions_dir`); absolute.

    `{host}` becomes this machine's short host name (or `host`) and `{date}` today's UTC date (or `now`'s,
    YYYY-MM-DD), so one shared directory can hold a hive layout: `--dir /shared/rigscope/host={host}/date={date}`."""
    text = dir_template(explicit)
    if "{host}" in text or "{date}" in text:
        text = text.replace("{host}", host or _host_slug()).replace("{date}", f"{(now or datetime.now(UTC)):%Y-%m-%d}")
    return Path(text).expanduser().absolute()


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temp name beside `path` for the block to write; renamed over `path` when the block ends, removed when it
    fails (a full disk leaves no half file behind, and the old `path` as it was)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, default=str)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_meta(session: Path) -> dict[str, Any]:
    """meta.json as an object: NaN, Infinity and out-of-range numbers as null; InputError when it is not one
    (a FIFO or device in its place, too large, too deeply nested, not JSON)."""
    try:
        meta = loads(read_bytes(session / META, META_MAX_BYTES))
    except FileNotFoundError:
        raise InputError(f"{session}: not a session (no {META})") from None
    except ValueError as error:
        raise InputError(f"{session}/{META}: unreadable ({error})") from None
    if not isinstance(meta, dict):
        raise InputError(f"{session}/{META}: not a JSON object")
    return meta


def _host_slug() -> str:
    return re.sub(r"[^A-Za-z0-9-]+", "-", socket.gethostname().split(".")[0]).strip("-") or "host"


def create_session_dir(root: Path, started: datetime, host: str | None = None, private: bool = True) -> Path:
    """Make `root/<UTC start>-<host>` (with -2, -3 ... when taken) and return it: 0700 when `private`
    (a session holds command lines, environment keys and process lists), else as the umask says."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot create sessions directory {root}: {error.strerror or error}") from None
    if not os.access(root, os.W_OK):
        raise InputError(f"sessions directory {root} is not writable")
    base = f"{started.astimezone(UTC):%Y%m%d-%H%M%S}-{host or _host_slug()}"
    for attempt in range(1, 1000):
        path = root / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            path.mkdir(mode=0o700 if private else 0o777)
        except FileExistsError:
            continue
        except OSError as error:
            raise InputError(f"cannot create session in {root}: {error.strerror or error}") from None
        return path
    raise InputError(f"too many sessions named {base} in {root}")


def _holds_meta(path: Path) -> bool:
    """A directory with a meta.json, or one that cannot be looked into (listed so it is not hidden).

    A meta.json that is no file (a FIFO, a directory, a device) counts: the listing says why it is corrupt."""
    try:
        return (path / META).exists()
    except OSError:
        return path.is_dir()


def list_sessions(root: Path) -> list[Path]:
    """Session directories under `root`, oldest first (ids sort by start time); hidden directories
    (an import being written) are not sessions."""
    try:
        if not root.is_dir():
            return []
        return sorted((p for p in root.iterdir() if not p.name.startswith(".") and _holds_meta(p)),
                      key=lambda p: p.name)
    except OSError as error:
        raise InputError(f"cannot list {root}: {error.strerror or error}") from None


def resolve_session(spec: str | None, root: Path) -> Path:
    """An id, a unique id prefix, `latest` (or None), or a path to a session directory."""
    if spec and spec != "latest":
        candidate = Path(spec)
        if (candidate / META).is_file():
            return candidate
        if (root / spec / META).is_file():
            return root / spec
        matches = [p for p in list_sessions(root) if p.name.startswith(spec)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            names = ", ".join(p.name for p in matches[:AMBIGUOUS_SHOWN])
            more = f" and {len(matches) - AMBIGUOUS_SHOWN} more" if len(matches) > AMBIGUOUS_SHOWN else ""
            raise InputError(f"session '{spec}' is ambiguous in {root}: {len(matches)} match ({names}{more})")
        raise InputError(f"no session '{spec}' in {root}")
    sessions = list_sessions(root)
    if not sessions:
        raise InputError(f"no sessions in {root}")
    return sessions[-1]


def pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_running(meta: dict[str, Any]) -> bool:
    """A session whose recorder is still alive on this host."""
    recorder = meta.get("recorder")
    return (meta.get("status") == "recording" and isinstance(recorder, dict)
            and recorder.get("hostname") == socket.gethostname()
            and pid_alive(recorder.get("pid")))


def session_status(meta: dict[str, Any], session: Path | None = None) -> str:
    """`recording` only while its recorder lives; a dead recorder's session is `interrupted`.

    A recorder on another host (a shared directory) cannot be asked: its session is `recording`
    while the files it flushes keep changing (see `_recently_flushed`)."""
    status = meta.get("status", "interrupted")
    if status != "recording":
        return str(status)
    recorder = found if isinstance(found := meta.get("recorder"), dict) else {}
    if recorder.get("hostname") not in (None, socket.gethostname()) and session is not None:
        return "recording" if _recently_flushed(session, meta) else "interrupted"
    return "recording" if is_running(meta) else "interrupted"


def _recently_flushed(session: Path, meta: dict[str, Any]) -> bool:
    """The open journal or events.jsonl changed within a few flush periods (or sample periods, when slower)."""
    monitoring = found if isinstance(found := meta.get("monitoring"), dict) else {}
    flush, hz = monitoring.get("flush_interval_s"), sample_hz(meta)
    period = max(flush if isinstance(flush, (int, float)) and not isinstance(flush, bool) else 1.0,
                 1 / hz if hz is not None else 1.0)
    samples = session / "samples"
    try:
        paths = [*(samples.iterdir() if samples.is_dir() else ()), session / "events.jsonl"]
        newest = max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)
    except OSError:
        return False
    return time.time() - newest < max(STALE_AFTER_S, 3 * period)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


MAX_SAMPLE_HZ = 1000.0  # ten times what `--hz` allows: anything above is a damaged meta.json
ROW_GROUP_SECONDS = 600.0  # a replay seek decodes at most two row groups: ten minutes of samples each


def row_group_rows(meta: dict[str, Any]) -> int | None:
    """Rows per Parquet row group of samples.parquet: ten minutes at the session's rate (None: the writer's default)."""
    hz = sample_hz(meta)
    return max(1024, round(hz * ROW_GROUP_SECONDS)) if hz is not None else None


def sample_hz(meta: dict[str, Any]) -> float | None:
    """`monitoring.sample_hz` when it is a rate a recorder can have (above 0, at most MAX_SAMPLE_HZ); else None."""
    monitoring = found if isinstance(found := meta.get("monitoring"), dict) else {}
    hz = monitoring.get("sample_hz")
    if isinstance(hz, bool) or not isinstance(hz, (int, float)) or not 0 < hz <= MAX_SAMPLE_HZ:
        return None
    return float(hz)
