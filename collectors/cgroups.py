"""Which container or job a process runs in, from the text of ``/proc/<pid>/cgroup``.

Works on cgroup v1 (one ``id:controllers:path`` line per hierarchy) and v2 (a
single ``0::path`` line).  Recognised, first match wins: a Kubernetes pod uid
(``kubepods`` slices, systemd or cgroupfs driver), a Slurm job id
(``slurm/uid_N/job_N`` or ``job_N`` under ``slurmstepd``), a Docker container
id (``docker-<id>.scope`` or ``/docker/<id>``) and a containerd id
(``cri-containerd-<id>.scope`` or ``/containerd/<id>``).  Anything else: None.
"""

from __future__ import annotations

import re
from pathlib import Path

SHORT_ID = 12  # as `docker ps` shows container ids

_POD = re.compile(r"kubepods[^\n]*?pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})")
_SLURM = re.compile(r"(?:^|/)(?:slurm[^/]*/)?(?:uid_\d+/)?job_(\d+)(?:/|$)")
_DOCKER = re.compile(r"(?:docker-|/docker/)([0-9a-f]{64})")
_CONTAINERD = re.compile(r"(?:cri-containerd-|/containerd/|containerd-)([0-9a-f]{64})")


def _paths(text: str) -> list[str]:
    """The cgroup path of every line (v1: every hierarchy; v2: the one unified path)."""
    paths = []
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) == 3 and parts[2]:
            paths.append(parts[2])
    return paths


def container_of(text: str) -> str | None:
    """``k8s:<pod uid>``, ``slurm:<job id>``, ``docker:<id12>`` or ``containerd:<id12>``; None when none."""
    paths = _paths(text)
    for pattern, label, short in ((_POD, "k8s", False), (_SLURM, "slurm", False),
                                  (_DOCKER, "docker", True), (_CONTAINERD, "containerd", True)):
        for path in paths:
            found = pattern.search(path)
            if found:
                value = found.group(1).replace("_", "-")
                return f"{label}:{value[:SHORT_ID] if short else value}"
    return None


def read_container(pid: int, proc: Path = Path("/proc")) -> str | None:
    """`container_of` the process's cgroup file; None when it is unreadable (gone, or not ours to read)."""
    try:
        return container_of((proc / str(pid) / "cgroup").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None
