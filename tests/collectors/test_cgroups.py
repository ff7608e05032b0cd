"""Container and job ids from /proc/<pid>/cgroup, on fixture files of cgroup v1 and v2."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from collectors.cgroups import container_of, read_container

FIXTURES = Path(__file__).parent / "fixtures" / "cgroup"
POD = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"

EXPECTED = {
    "v1-docker": "docker:3f4e2a1b9c8d",
    "v2-docker": "docker:3f4e2a1b9c8d",
    "v1-containerd": "containerd:3f4e2a1b9c8d",
    "v2-containerd": "containerd:3f4e2a1b9c8d",
    "v1-kubernetes": f"k8s:{POD}",
    "v2-kubernetes": f"k8s:{POD}",  # the pod wins over the container runtime's id in the same path
    "v1-slurm": "slurm:4242",
    "v2-slurm": "slurm:4242",
    "v1-plain": None,
    "v2-plain": None,
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture(name: str) -> None:
    assert container_of((FIXTURES / f"{name}.txt").read_text()) == EXPECTED[name]


def test_every_fixture_is_checked() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.txt")) == sorted(EXPECTED)


def test_garbage_and_empty_give_none() -> None:
    assert container_of("") is None
    assert container_of("not a cgroup file\n\x00\x01") is None
    assert container_of("0::/docker/short-id") is None


def test_read_container_of_this_process_and_of_a_missing_pid(tmp_path: Path) -> None:
    assert read_container(os.getpid()) == container_of(Path(f"/proc/{os.getpid()}/cgroup").read_text())
    assert read_container(123, proc=tmp_path) is None
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "cgroup").write_text((FIXTURES / "v2-slurm.txt").read_text())
    assert read_container(7, proc=tmp_path) == "slurm:4242"
