"""Per-user local channels: where this user's recorders take events, and how senders find them.

Each running recorder listens on a Unix datagram socket of its own, named after its session id
and its process (`<session id>.<pid>-<n>.sock`; a dashboard that does not record: `live.<pid>-<n>.sock`),
in the user's runtime directory: `$XDG_RUNTIME_DIR/rigscope/`, else `<temp dir>/rigscope-<uid>/`, or
`~/.cache/rigscope/run/` when someone else made that one first.
The directory is 0700 and the sockets 0600, so other users cannot send; the receiver also checks
each sender's uid (collectors.receiver).  A directory that is a symlink or belongs to another user
is refused, never used (someone could have made it first to read our events); one of ours open to
others is closed to 0700 by a recorder, and refused by senders until then.

Only the standard library is imported: the probe (rigscope.probe) finds its recorder with this,
and the monitor places its socket with it.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import socket
import stat

RUNTIME_ENV = "XDG_RUNTIME_DIR"
SESSION_ENV = "RIGSCOPE_SESSION"  # picks one recorder by session id (`rigscope run` sets it for its child)
SUFFIX = ".sock"
ATTACH_SUFFIX = ".attach"  # a recorder's stream socket for viewers (rigscope.serve.attach): a stream, not datagrams
LIVE = "live"  # the name of a monitor that records no session
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,100}")
_numbers = itertools.count(1)  # one process may hold several (a dashboard that starts a new recording)


class ChannelError(OSError):
    """The runtime directory cannot be used safely (another owner, a symlink, open to others)."""


def channel_dir(create: bool = False) -> str:
    """The directory of this user's recorder sockets; ChannelError when it is unsafe or (unless
    `create`) missing."""
    candidates = _candidates()
    for path in candidates[:-1]:
        try:
            return _checked(path, create)
        except ChannelError:
            continue  # made first by someone else (or not there): the next place
    return _checked(candidates[-1], create)


def _candidates() -> list[str]:
    """Where the sockets may be, in order.  `$XDG_RUNTIME_DIR` is the user's own 0700 directory, so no
    one else can make ours in it first; in the shared temp directory anyone can, and then the user's
    home (which no one else can write) takes over, so another user cannot stop us from recording."""
    base = os.environ.get(RUNTIME_ENV, "")
    if base and os.path.isabs(base):
        return [os.path.join(base, "rigscope")]
    import tempfile  # only here: the probe's import stays light

    return [os.path.join(tempfile.gettempdir(), f"rigscope-{os.getuid()}"),
            os.path.join(os.path.expanduser("~"), ".cache", "rigscope", "run")]


def _checked(path: str, create: bool) -> str:
    if create:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise ChannelError(errno.ENOENT, "no rigscope recorder runs for this user", path) from None
    if not stat.S_ISDIR(info.st_mode):
        raise ChannelError(errno.ENOTDIR, "not a directory (a symlink?): refused", path)
    if info.st_uid != os.getuid():
        raise ChannelError(errno.EPERM, f"owned by uid {info.st_uid}, not this user: refused", path)
    if info.st_mode & 0o077:
        if not create:
            raise ChannelError(errno.EPERM, "open to other users: refused", path)
        os.chmod(path, 0o700)
    return path


def is_session_id(name: str) -> bool:
    """Whether `name` can be a recorder's session id (what its socket is named after)."""
    return _NAME.fullmatch(name) is not None


def new_socket_path(name: str, suffix: str = SUFFIX) -> str:
    """A new socket path for a recorder of session `name` in this process (the runtime directory made
    when missing); ValueError for a name that is not a session id."""
    if not is_session_id(name):
        raise ValueError(f"not a session id: {name!r}")
    return os.path.join(channel_dir(create=True), f"{name}.{os.getpid()}-{next(_numbers)}{suffix}")


def recorders(suffix: str = SUFFIX) -> list[tuple[str, str]]:
    """(session id, socket path) of this user's recorder sockets (event sockets, or with ATTACH_SUFFIX
    the stream sockets viewers attach to), newest first (live or stale).
    Two recorders writing to different folders may have the same session id."""
    try:
        folder = channel_dir()
        names = os.listdir(folder)
    except OSError:
        return []
    uid = os.getuid()
    found: list[tuple[int, str, str]] = []
    for entry in names:
        if not entry.endswith(suffix):
            continue
        path = os.path.join(folder, entry)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISSOCK(info.st_mode) and info.st_uid == uid:
            found.append((info.st_mtime_ns, entry[: -len(suffix)].rpartition(".")[0], path))
    found.sort(reverse=True)
    return [(name, path) for _, name, path in found]


def alive(path: str, kind: int = socket.SOCK_DGRAM) -> bool:
    """Whether a recorder listens on `path` now (a stale socket of a dead one refuses the connect)."""
    try:
        with socket.socket(socket.AF_UNIX, kind) as probe:
            probe.connect(path)
    except OSError:  # refused (a stale socket), gone, not ours, or no descriptor left
        return False
    return True


def live_recorders(session: str | None = None, recording: bool = False) -> list[tuple[str, str]]:
    """This user's monitors that listen now, newest first: those of `session` when given, only those
    that record a session with `recording`."""
    return [(name, path) for name, path in recorders()
            if (session is None or name == session) and not (recording and name == LIVE) and alive(path)]


def find_recorder(session: str | None = None, recording: bool = False) -> tuple[str, str] | None:
    """The monitor to send to: the newest of session `session` (else `$RIGSCOPE_SESSION`) when given,
    else the newest of all; None when there is none (a picked session that does not run is not replaced)."""
    wanted = session or os.environ.get(SESSION_ENV) or None
    for found in live_recorders(wanted, recording):
        return found
    return None


def live_attach_points(session: str | None = None) -> list[tuple[str, str]]:
    """(session id, stream socket) of this user's recorders that viewers can attach to now, newest first."""
    return [(name, path) for name, path in recorders(ATTACH_SUFFIX)
            if (session is None or name == session) and alive(path, socket.SOCK_STREAM)]


def remove_stale() -> None:
    """Unlink the sockets of recorders that died without cleaning up (a new recorder does this)."""
    stale = [path for _, path in recorders() if not alive(path)]
    stale += [path for _, path in recorders(ATTACH_SUFFIX) if not alive(path, socket.SOCK_STREAM)]
    for path in stale:
        try:
            os.unlink(path)
        except OSError:
            pass
