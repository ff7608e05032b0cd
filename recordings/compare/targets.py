"""Which sessions a comparison covers: named sessions, group ids (all the group's runs), or every session."""

from __future__ import annotations

from pathlib import Path

from recordings.catalog import catalog
from recordings.errors import InputError
from recordings.session import list_sessions, read_meta, resolve_session


def group_members(root: Path) -> dict[str, list[Path]]:
    """group_id → its sessions (oldest first), from meta.json files; unreadable ones are skipped."""
    groups: dict[str, list[Path]] = {}
    for session in list_sessions(root):
        try:
            group = read_meta(session).get("group_id")
        except InputError:
            continue
        if isinstance(group, str) and group:
            groups.setdefault(group, []).append(session)
    return groups


def resolve_targets(specs: list[str], root: Path, every: bool = False,
                    demo: bool = False) -> tuple[list[Path], list[str]]:
    """The sessions to compare (each once, in order) and warnings about sessions left out.

    An argument that equals a `group_id` stands for all of that group's sessions; anything else is a
    session id, unique prefix, `latest` or path.  With `every`, corrupt sessions are left out with a warning,
    and demo sessions (simulated readings) unless `demo`."""
    if every == bool(specs):
        raise InputError("give sessions (or group ids) to compare, or --all")
    warnings: list[str] = []
    if every:
        paths = []
        demos = 0
        for row in reversed(catalog(root)):  # oldest first
            if row["status"] == "corrupt":
                warnings.append(f"left out corrupt session {row['id']}: {row.get('error')}")
            elif row["demo"] and not demo:
                demos += 1
            else:
                paths.append(Path(row["path"]))
        if demos:
            warnings.append(f"left out {demos} demo session{'s' if demos > 1 else ''} (--demo takes them in)")
        if not paths:
            raise InputError(f"no sessions in {root}" + (" but demo ones (--demo takes them in)" if demos else ""))
        return paths, warnings
    groups = group_members(root)
    paths = []
    for spec in specs:
        paths.extend(groups[spec] if spec in groups else [resolve_session(spec, root)])
    once: dict[Path, Path] = {}  # a session named by id and again by a path or a link to it is compared once
    for path in paths:
        once.setdefault(path.resolve(), path)
    return list(once.values()), warnings
