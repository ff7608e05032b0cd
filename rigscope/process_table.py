"""The processes around a `rigscope run` command, as Linux /proc tells (elsewhere: none found): the live
members of a process group, the holders of a pipe, the processes that inherited an environment entry."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path


def _processes() -> Iterator[tuple[Path, int, str, str, int]]:
    """(its /proc folder, pid, name, state, process group) of each process but this one."""
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        try:
            name, _, rest = (entry / "stat").read_text().partition("(")[2].rpartition(")")
        except OSError:  # gone meanwhile
            continue
        state, _, group = rest.split()[:3]
        yield entry, pid, name, state, int(group)


def group_members(group: int) -> list[tuple[int, str]]:
    """(pid, name) of the live processes (zombies aside) of process group `group`."""
    return [(pid, name) for pid, name, _ in group_states(group)]


def group_states(group: int) -> list[tuple[int, str, str]]:
    """(pid, name, state: R running, S sleeping, D in an uninterruptible kernel call ...) of the same processes."""
    return sorted((pid, name, state) for _, pid, name, state, pgrp in _processes()
                  if pgrp == group and state not in ("Z", "X"))


def pipe_holders(inode: int) -> list[tuple[int, str]]:
    """(pid, name) of the other processes that hold an end of the pipe `inode`."""
    target = f"pipe:[{inode}]"
    found = []
    for entry, pid, name, _, _ in _processes():
        try:
            if any(os.readlink(link) == target for link in (entry / "fd").iterdir()):
                found.append((pid, name))
        except OSError:  # gone meanwhile, or not ours to look at
            continue
    return sorted(found)


def inheritors(variable: str, outside: int) -> list[tuple[int, str]]:
    """(pid, name) of the live processes outside process group `outside` whose environment holds `variable`
    ("KEY=value"): descendants of a process started with it, daemons included (unless they cleared it)."""
    wanted = variable.encode()
    found = []
    for entry, pid, name, state, group in _processes():
        if group == outside or state in ("Z", "X"):
            continue
        try:
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                found.append((pid, name))
        except OSError:  # gone meanwhile, or another user's
            continue
    return sorted(found)
