"""With no recorder running the probe costs next to nothing: it does not search the runtime folder
for one with every datagram, only when the folder changed (a recorder started) or a while passed."""

from __future__ import annotations

import time

import rigscope
from rigscope import probe, probe_transport
from tests.probe.conftest import Listener


def test_no_recorder_is_looked_for_again_until_the_folder_changes(runtime, monkeypatch):
    looks: list[object] = []
    finding = probe_transport.find_recorder
    monkeypatch.setattr(probe_transport, "find_recorder", lambda: looks.append(1) or finding())
    monkeypatch.setattr(probe_transport, "LOOKUP_S", 600.0)
    stale = Listener("20200101-000000-crashed")  # a recorder killed by the OOM killer left its socket
    stale.close()
    for step in range(30):  # a metric per training step: one datagram each
        rigscope.metric("loss", 1.0, step=step)
        probe.flush()
    assert probe.dropped() == 30 and len(looks) == 1
    late = Listener("20200101-000001-late")  # a recorder that starts: its socket changes the folder
    try:
        rigscope.metric("loss", 2.0, step=30)
        assert [e["step"] for e in late.collect(1)] == [30] and len(looks) == 2
    finally:
        late.close()


def test_a_stopped_recorder_is_tried_less_and_less_often_not_500_times_a_second(listener, monkeypatch):
    """A dashboard suspended with Ctrl-Z reads nothing (`listener` never reads unless asked): the sender
    thread backs off to a try each IDLE_DELAY_S instead of popping and pushing back its batch every 2 ms,
    which took the workload's GIL for about 5 % of a core."""
    from rigscope.probe_transport import transport

    for step in range(20_000):  # more than the unread socket holds
        rigscope.metric("loss", 1.0, step=step)
    tries: list[bool] = []
    sending = transport._send_batch

    def counted(batch: list[str]) -> bool:
        tries.append(sending(batch))
        return tries[-1]

    monkeypatch.setattr(transport, "_send_batch", counted)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        time.sleep(0.05)
    assert probe.stats()["queued"] > 0 and False in tries
    assert len(tries) <= 25  # a slower machine only tries less often
