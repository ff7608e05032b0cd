"""The user's settings file: quick presets for the keys 1-9.

`$RIGSCOPE_CONFIG`, else `~/.config/rigscope/config.toml`:

    [presets]
    1 = "tag:data_prep"
    6 = "note:lr dropped"
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from collectors.event_kinds import EventKind
from recordings.errors import InputError


def config_path() -> Path:
    explicit = os.environ.get("RIGSCOPE_CONFIG")
    return Path(explicit) if explicit else Path.home() / ".config" / "rigscope" / "config.toml"


def load_presets(path: Path | None = None) -> dict[str, tuple[str, str]] | None:
    """Presets from the settings file, or None to keep the defaults."""
    path = path or config_path()
    if not path.is_file():
        return None
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("presets", {})
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise InputError(f"{path}: unreadable settings ({error})") from None
    presets: dict[str, tuple[str, str]] = {}
    for key, value in table.items():
        kind, _, text = str(value).partition(":")
        if key not in tuple("123456789") or kind not in (EventKind.TAG, EventKind.NOTE) or not text:
            raise InputError(f"{path}: preset {key} = {value!r} should be 1-9 = \"tag:NAME\" or \"note:TEXT\"")
        presets[key] = (kind, text)
    return presets
