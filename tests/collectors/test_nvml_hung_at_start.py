"""A wedged driver hangs every NVML call from the first (nvidia-smi too): rigscope starts all the same, CPU only,
says it is waiting and then why the GPUs are left out, instead of hanging before its first line."""

from __future__ import annotations

import threading

import pytest

from collectors import gpu
from collectors.fake_nvml import FakeNvml
from rigscope.monitor import Monitor, MonitorConfig


class WedgedAtInit(FakeNvml):
    """nvmlInit never returns until released."""

    def __init__(self) -> None:
        super().__init__(2)
        self.release = threading.Event()

    def init(self) -> None:
        self.release.wait(30)
        super().init()


def test_a_driver_that_never_answers_leaves_the_gpus_out_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu, "NVML_ANSWER_S", 0.6)
    monkeypatch.setattr(gpu, "NVML_PATIENCE_S", 0.2)
    wedged = WedgedAtInit()
    told: list[str] = []
    try:
        monitor = Monitor(MonitorConfig(source="system", mode="auto", hz=10, duration_s=0.3, directory=str(tmp_path),
                                        receive_events=False), nvml_backend=wedged, on_notice=told.append)
        assert monitor.gpu_indices == []
        assert told[0] == "waiting for the NVIDIA driver to answer (NVML); CPU only after 1 s"
        assert f"NVML did not answer in 1 s (a hung driver: nvidia-smi would hang too): {gpu.CPU_ONLY}" in told
        monitor.start()
        monitor.sampler.finished.wait(20)
        monitor.stop()
    finally:
        wedged.release.set()


def test_a_slow_driver_that_answers_in_time_gives_its_gpus(monkeypatch):
    monkeypatch.setattr(gpu, "NVML_PATIENCE_S", 0.05)
    slow = WedgedAtInit()
    threading.Timer(0.3, slow.release.set).start()
    told: list[str] = []
    collector, reason = gpu.open_gpu_collector_within(told.append, timeout_s=10, backend=slow)
    assert reason is None and collector is not None and collector.indices == (0, 1)
    assert told == ["waiting for the NVIDIA driver to answer (NVML); CPU only after 10 s"]
    collector.close()


def test_a_bad_gpus_flag_is_still_a_usage_error():
    with pytest.raises(ValueError):
        gpu.open_gpu_collector_within(lambda _: None, backend=FakeNvml(2), gpus_flag="7")
