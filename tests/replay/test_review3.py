"""Odd but valid sessions in replay, and odd times asked of it."""

from __future__ import annotations

import argparse

from collectors.timeutil import iso_from_us
from recordings.replay import ReplayReader
from rigscope.replay_command import replay_app


def test_goto_a_clock_time_past_the_end_says_so(recorded):
    reader = ReplayReader(recorded)
    last = len(reader) - 1
    after = iso_from_us(reader.ts_us[-1] + 60_000_000)[11:19]  # a minute after the last sample
    assert reader.goto(after, 0) == (last, True)
    assert reader.goto(iso_from_us(reader.ts_us[-1])[11:19], 0)[1] is False  # the last second itself is inside


def test_at_a_clock_time_past_the_end_warns(recorded, tmp_path, capsys):
    reader = ReplayReader(recorded)
    after = iso_from_us(reader.ts_us[-1] + 60_000_000)[11:19]
    args = argparse.Namespace(speed=1.0, at=after, fps=2.0, ascii=False)
    _, source = replay_app(recorded, tmp_path, args)
    source.close()
    assert f"--at {after} is past the end" in capsys.readouterr().err
