"""The probe's environment settings with bad values: one line on stderr, once, never an exception in
the workload, and the probe off only when that is what the setting says."""

from __future__ import annotations

import pytest

import rigscope
from rigscope import probe


def post_three() -> None:
    for step in range(3):
        rigscope.metric("loss", 1.0, step=step)
    probe.flush()


@pytest.mark.parametrize(("name", "value", "said", "off"), [
    ("RIGSCOPE_PROBE_UDP", "http", "RIGSCOPE_PROBE_UDP", True),  # a port that is none
    ("RIGSCOPE_PROBE_UDP", "70000", "RIGSCOPE_PROBE_UDP", True),
    ("RIGSCOPE_PROBE", "disabled", "RIGSCOPE_PROBE", False),  # neither off nor on: said, and left on
    ("RIGSCOPE_PROBE", "0", None, True),
    ("RIGSCOPE_PROBE", "False", None, True),
    ("RIGSCOPE_PROBE", " OFF ", None, True),
    ("RIGSCOPE_PROBE", "on", None, False),
    ("RIGSCOPE_SESSION", "run 12/a", "RIGSCOPE_SESSION", True),  # no session id: no recorder has it
])
def test_a_setting_is_taken_or_said_once_in_one_line(listener, monkeypatch, capfd, name, value, said, off):
    monkeypatch.setenv(name, value)
    probe.reset()
    post_three()
    post_three()
    err = capfd.readouterr().err
    if said is None:
        assert err == ""
    else:
        assert len(err.splitlines()) == 1 and said in err and repr(value) in err, err
        assert "Traceback" not in err
    assert (listener.collect(6, timeout_s=0.3 if off else 5) == []) is off
    assert probe.dropped() == (6 if off else 0)


def test_udp_without_a_token_is_said_once(runtime, monkeypatch, capfd):
    monkeypatch.setenv("RIGSCOPE_PROBE_UDP", "9")  # discard: nothing listens, and no token to send
    probe.reset()
    post_three()
    post_three()
    err = capfd.readouterr().err
    assert len(err.splitlines()) == 1 and "RIGSCOPE_TOKEN" in err, err
