"""The user's settings file: quick presets for the keys 1-9.

`$RIGSCOPE_CONFIG`, else `~/.config/rigscope/config.toml`:

    [presets]
    1 = "tag:data_prep"
    6 = "note:lr dropped"

A file that another user could have written (owned by someone else than you or root, or writable by
everyone) is refused, as is one over MAX_BYTES or with control characters in a preset.
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

from collectors.event_kinds import EventKind
from recordings.errors import InputError
from recordings.inert import inert

MAX_BYTES = 64 * 1024  # nine presets take a few hundred bytes


def config_path() -> Path:
    explicit = os.environ.get("RIGSCOPE_CONFIG")
    return Path(explicit) if explicit else Path.home() / ".config" / "rigscope" / "config.toml"


def _read(path: Path) -> str:
    """The file's text, once it is known to be the user's own and small."""
    with path.open("rb") as handle:
        info = os.fstat(handle.fileno())
        if info.st_uid not in (os.getuid(), 0):
            raise InputError(f"{path}: settings file belongs to uid {info.st_uid}, not to you: not read")
        if info.st_mode & stat.S_IWOTH:
            raise InputError(f"{path}: settings file is writable by every user: not read (chmod o-w it)")
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise InputError(f"{path}: settings file is over {MAX_BYTES // 1024} KiB: not read")
    return data.decode("utf-8")


def load_presets(path: Path | None = None) -> dict[str, tuple[str, str]] | None:
    """Presets from the settings file, or None to keep the defaults."""
    path = path or config_path()
    if not path.is_file():
        return None
    try:
        table = tomllib.loads(_read(path)).get("presets", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise InputError(f"{path}: unreadable settings ({error})") from None
    if not isinstance(table, dict):
        raise InputError(f"{path}: presets should be a table ([presets] with 1-9 = \"tag:NAME\" or \"note:TEXT\")")
    presets: dict[str, tuple[str, str]] = {}
    for key, value in table.items():
        kind, _, text = str(value).partition(":")
        if key not in tuple("123456789") or kind not in (EventKind.TAG, EventKind.NOTE) or not text.strip() \
                or inert(text) != text:
            raise InputError(f"{path}: preset {inert(key)} = {inert(repr(value))} should be 1-9 = \"tag:NAME\" or "
                             "\"note:TEXT\" (one line of printable text)")
        presets[key] = (kind, text)
    return presets
