"""A process-list call that hangs at the stop: the monitor stops all the same, and NVML is not shut down
under the call (NVML's own rule; the sampler's readers keep it through their background group)."""

from __future__ import annotations

import threading

from collectors.fake_nvml import FakeGpu, FakeNvml
from recordings import session_writer
from rigscope import monitor as monitor_module
from rigscope.monitor import Monitor, MonitorConfig
from tests.waiting import wait_sync


class HangingProcesses(FakeNvml):
    """Its process list blocks from the second call on, until `release`."""

    def __init__(self) -> None:
        super().__init__([FakeGpu()])
        self.release = threading.Event()
        self.listing = threading.Event()
        self.lists = 0

    def processes(self, index: int):
        self.lists += 1
        if self.lists > 1:
            self.listing.set()
            self.release.wait(30)
        return super().processes(index)


def test_a_hung_process_list_keeps_nvml_up_at_the_stop(tmp_path, monkeypatch):
    monkeypatch.setattr(monitor_module, "CONSUMERS_STOP_WAIT_S", 0.2)  # the waits a stop gives the process tier
    monkeypatch.setattr(session_writer, "FEEDS_CLOSE_WAIT_S", 0.2)
    nvml = HangingProcesses()
    monitor = Monitor(MonitorConfig(source="system", hz=5.0, directory=str(tmp_path), receive_events=False,
                                    proc_interval_s=0.2), nvml_backend=nvml)
    closed = []
    for collector in monitor.sources.collectors:
        collector.close = lambda close=collector.close, name=collector.name: (closed.append(name), close())
    monitor.start()
    try:
        wait_sync(nvml.listing.is_set, 20, "the process tier inside a list that hangs")
        monitor.stop()
        assert monitor.processes.running and nvml.initialised  # not shut down under the call
        assert "nvml" not in closed and closed  # the other collectors are closed
    finally:
        nvml.release.set()
    wait_sync(lambda: not monitor.processes.running, 10, "the process tier to end once the call returns")
