"""End to end: the live dashboard (`rigscope`) in tmux on eight mocked H100s, one lost mid-run.

The unmodified pynvml loads the mock libnvidia-ml through LD_LIBRARY_PATH, as on a GPU box; the
screen must show the scenario's GPUs and readings, and the lost GPU as lost, said once.
"""

from __future__ import annotations

import shlex
import sys

import pytest

from tests.conftest import REPO
from tests.nvml_mock.fixtures import nvml_mock_library  # noqa: F401  (fixture)
from tests.nvml_mock.scenario import GPU_IS_LOST, Scenario, h100
from tests.tmux import needs_tmux, tmux
from tests.tui.conftest import read_meta

pytestmark = pytest.mark.nvml_abi


def gpu5_lost(screen: str) -> bool:
    full = "GPU5 H100 80GB HBM3  P—  SM —" in screen
    compact = any(line.lstrip().startswith("GPU5 ") and "—" in line and "°C" not in line for line in screen.splitlines())
    return full or compact


@needs_tmux
def test_dashboard_on_eight_mocked_h100s_shows_them_and_a_lost_gpu_in_tmux(tmp_path, nvml_mock_library):
    gpus = [h100(i) for i in range(8)]
    gpus[5]["faults"] = [{"function": "*", "code": GPU_IS_LOST, "from": 10}]
    scenario = Scenario(tmp_path, gpus, rounds_of="nvmlDeviceGetUtilizationRates")
    sessions = tmp_path / "sessions"
    env = " ".join(f"{key}={shlex.quote(value)}" for key, value in scenario.env(nvml_mock_library).items())
    args = shlex.join([sys.executable, "-m", "rigscope", "--dir", str(sessions), "--hz", "5"])
    command = f"cd {shlex.quote(str(REPO))} && env -u RIGSCOPE_DIR -u NO_COLOR TERM=xterm-256color {env} {args}; " \
              f"echo \"exit status $?\""
    with tmux() as term:
        term.start(command, width=160, height=50)
        said = term.wait_screen(lambda s: "nvml: gpu5 lost: GPU is lost" in s, "gpu5 lost, said in the dashboard")
        assert said.count("nvml: gpu5 lost") <= 2  # once in the events pane, and its toast while that lasts
        # The full layout has a panel per GPU, the compact one a row (its right side may sit under the
        # notifications): either way every GPU is there, gpu0 shows its scenario temperature, gpu5 none.
        screen = term.wait_screen(lambda s: all(f"GPU{i}" in s for i in range(8)) and "61/87°C" in s and gpu5_lost(s),
                                  "the eight GPUs, gpu0's temperature and gpu5 shown without readings")
        assert "rigscope LIVE" in screen and "66/87°C" not in screen
        term.keys("q")
        assert "exit status 0" in term.wait_screen(lambda s: "exit status" in s, "the dashboard to exit", 30)
    (session,) = sessions.iterdir()
    meta = read_meta(session)
    assert meta["status"] == "complete" and len(meta["gpus"]) == 8
    assert "nvml: gpu5 lost: GPU is lost" in meta["warnings"]
