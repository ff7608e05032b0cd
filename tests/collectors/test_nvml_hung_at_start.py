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


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch):
    """Each test a process in which NVML has not yet failed to answer."""
    monkeypatch.setattr(gpu, "_gave_up", threading.Event())


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


def test_after_one_timeout_later_openings_go_on_at_once_and_a_late_answer_is_closed(monkeypatch):
    """A new recording (`r`) or a repeat of `run` waits no second minute; the collector the driver gives late (NVML
    initialised, GPM started) is closed, not left open and unused."""
    monkeypatch.setattr(gpu, "NVML_PATIENCE_S", 0.05)
    wedged = WedgedAtInit()
    closed = threading.Event()
    original_close = gpu.GpuCollector.close
    monkeypatch.setattr(gpu.GpuCollector, "close", lambda self: (closed.set(), original_close(self))[1])
    collector, reason = gpu.open_gpu_collector_within(lambda _: None, timeout_s=0.2, backend=wedged)
    assert collector is None and reason is not None and reason.startswith("NVML did not answer in 0 s")
    told: list[str] = []
    again = gpu.open_gpu_collector_within(told.append, timeout_s=30, backend=FakeNvml(2))
    assert again == (None, f"NVML did not answer earlier in this process (a hung driver): {gpu.CPU_ONLY}")
    assert told == []
    wedged.release.set()  # the driver answers at last
    assert closed.wait(10)


def test_the_dashboard_says_what_it_waits_for_before_it_takes_the_screen(tmp_path, monkeypatch):
    """Plain `rigscope` on a box whose driver hangs: a line on the terminal while it waits, not a blank minute (the
    notice queued for the dashboard is shown only once the dashboard is up)."""
    from rigscope.live import LiveSource

    monkeypatch.setattr(gpu, "NVML_ANSWER_S", 0.6)
    monkeypatch.setattr(gpu, "NVML_PATIENCE_S", 0.2)
    wedged = WedgedAtInit()
    said: list[str] = []
    try:
        source = LiveSource(MonitorConfig(source="system", hz=5.0, directory=str(tmp_path), receive_events=False),
                            nvml_backend=wedged, waiting=said.append)
        source.close()
    finally:
        wedged.release.set()
    assert said == ["waiting for the NVIDIA driver to answer (NVML); CPU only after 1 s"]
