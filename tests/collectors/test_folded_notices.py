"""A notice said alike by several GPUs is said once for them all: an 8-GPU box without fans or GPM gets two
lines in meta.json's warnings and the events pane, not sixteen."""

from __future__ import annotations

import json
from pathlib import Path

from collectors.fake_nvml import FakeGpu, FakeNvml
from collectors.notices import fold_by_gpu
from rigscope.monitor import Monitor, MonitorConfig
from tests.folded import gpus_named


def test_notices_that_differ_only_in_their_gpu_are_folded_in_order():
    notices = [f"nvml: gpu{i} fan_pct not supported (Not Supported): null for this session" for i in (0, 1, 2, 3, 6)]
    notices.insert(2, "nvml: gpu1 lost: GPU is lost")
    notices += ["nvml: gpu4 energy counter went back (10 J to 2 J, a reset)",
                "nvml: gpu5 energy counter went back (12 J to 3 J, a reset)", "cpu: RAPL not readable"]
    assert fold_by_gpu(notices) == [
        "nvml: gpu0-gpu3,gpu6 fan_pct not supported (Not Supported): null for this session",
        "nvml: gpu1 lost: GPU is lost",
        "nvml: gpu4 energy counter went back (10 J to 2 J, a reset)",  # its own figures: not the same notice
        "nvml: gpu5 energy counter went back (12 J to 3 J, a reset)",
        "cpu: RAPL not readable"]
    assert fold_by_gpu(["nvml: gpu2 x", "nvml: gpu3 x"]) == ["nvml: gpu2,gpu3 x"]
    assert fold_by_gpu(["gpu10 and gpu1 x", "gpu11 and gpu1 x"]) == ["gpu10,gpu11 and gpu1 x"]  # the first GPU named


def test_an_eight_gpu_box_without_fans_or_gpm_says_each_once(tmp_path: Path):
    nvml = FakeNvml([FakeGpu(unsupported=("fan_pct",), gpm=None) for _ in range(8)])
    monitor = Monitor(MonitorConfig(source="system", mode="auto", hz=20, duration_s=0.5, directory=str(tmp_path),
                                    receive_events=False), nvml_backend=nvml)
    monitor.start()
    monitor.sampler.finished.wait(20)
    monitor.stop()
    (session,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    warnings = json.loads((session / "meta.json").read_text())["warnings"]
    # GPM is asked at start, before the sampler's first tick: one line
    assert "nvml: gpu0-gpu7 GPM not supported (this GPU has no GPM): SM, tensor and DRAM activity null for " \
           "this session" in warnings
    # the fields are read by the GPUs' own thread: a tick may drain it halfway through its first round
    lines, named = gpus_named(warnings, " fan_pct not supported (Not Supported): null for this session")
    assert lines <= 2 and named == set(range(8))
