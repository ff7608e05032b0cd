"""pytest fixtures for the NVML mock: the built library (once per session) and scenario backends.

Test modules that use the mock import these names (``from tests.nvml_mock.fixtures import *``
is avoided: they import the fixtures they use by name).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.nvml_mock.build import BuildError, build, compiler
from tests.nvml_mock.remote import RemoteBackend
from tests.nvml_mock.scenario import Scenario


def _build(omit: tuple[str, ...] = ()) -> Path:
    if compiler() is None:
        pytest.skip("no C compiler (cc or gcc) to build the NVML mock")
    try:
        return build(omit)
    except BuildError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def nvml_mock_library() -> Path:
    """The directory holding the mock libnvidia-ml.so.1 (built, or found in the build cache)."""
    return _build()


@pytest.fixture
def mock_backend(nvml_mock_library: Path, tmp_path: Path) -> Iterator[Callable[..., tuple[Scenario, RemoteBackend]]]:
    """make(gpus, omit=(), **scenario options) -> (scenario, the real backend over the mock)."""
    backends: list[RemoteBackend] = []

    def make(gpus: list[dict[str, Any]], omit: tuple[str, ...] = (), **options: Any) -> tuple[Scenario, RemoteBackend]:
        library = _build(omit) if omit else nvml_mock_library
        scenario = Scenario(tmp_path, gpus, **options)
        backends.append(RemoteBackend(scenario.env(library)))
        return scenario, backends[-1]

    yield make
    for backend in backends:
        backend.close()
