"""Glob characters in a sessions directory are part of its name: readers never expand them.

polars takes `*`, `?` and `[...]` in a path as a pattern unless told otherwise: a session under
`runs[1]/` could not be read at all, and one under `a*/` was read together with the session of
the same name under `ab/`.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil

import polars as pl
import pytest

from recordings.replay import check_session
from rigscope.replay_command import replay_app
from tests.afterrun.conftest import copy_session
from tests.recordings.hostile import interrupted
from tui.replay_source import SessionDirectory

EXPORTS = {"csv": lambda p: pl.read_csv(p).height, "parquet": lambda p: pl.read_parquet(p).height,
           "json": lambda p: pl.read_ndjson(p).height}


def _exported_rows(rig, session, out) -> dict[str, int]:
    rows = {}
    for kind, count in EXPORTS.items():
        target = out / f"export.{kind}"
        done = rig("export", session.name, "--dir", str(session.parent), "--to", kind, "--out", str(target))
        assert done.returncode == 0, done.stderr
        rows[kind] = count(target)
    done = rig("export", session.name, "--dir", str(session.parent), "--to", "long-csv", "--out", str(out / "l.csv"))
    assert done.returncode == 0, done.stderr
    return rows


def _replays(session) -> int:
    """Rows the replay app found, opened as `rigscope replay` opens it and shown under Textual's pilot."""
    async def body() -> int:
        app, source = replay_app(session, session.parent, argparse.Namespace(speed=None, at=None, fps=4.0,
                                                                              ascii=False))
        try:
            async with app.run_test(size=(80, 24)) as pilot:
                await pilot.pause(0.1)
                await app.screen.run_action("edge(1)")
                await pilot.pause(0.05)
                assert app.is_running and source.reader.rows(len(source.reader) - 1, len(source.reader))
                return len(source.reader)
        finally:
            source.close()
    return asyncio.run(body())


@pytest.mark.parametrize("unfinished", [False, True])
def test_a_session_under_brackets_reads(sim_session, tmp_path, rig, unfinished):
    session = copy_session(sim_session, tmp_path / "runs[1]")
    if unfinished:
        interrupted(session)
    samples = pl.read_parquet(sim_session / "samples.parquet").height
    report = rig("report", "latest", "--dir", str(session.parent))
    assert report.returncode == 0 and report.stdout.startswith("# rigscope report"), report.stderr
    assert _exported_rows(rig, session, tmp_path) == dict.fromkeys(EXPORTS, samples)
    analyzed = rig("analyze", "latest", "--dir", str(session.parent), "--out", str(tmp_path / "d.parquet"))
    assert analyzed.returncode == 0, analyzed.stderr
    assert check_session(session) is None and SessionDirectory(session.parent).list()[0]["status"] != "corrupt"
    assert _replays(session) == samples


def test_a_star_never_takes_in_the_session_beside_it(sim_session, tmp_path, rig):
    """`a*/S` beside `ab/S`: every reader of a*/S sees its 60 rows, never ab/S's."""
    mine = copy_session(sim_session, tmp_path / "a*")
    copy_session(sim_session, tmp_path / "ab")
    pl.read_parquet(mine / "samples.parquet").head(60).write_parquet(mine / "samples.parquet")
    assert _exported_rows(rig, mine, tmp_path) == dict.fromkeys(EXPORTS, 60)
    assert _replays(mine) == 60
    done = rig("analyze", str(mine / "samples.parquet"), "--out", str(tmp_path / "d.csv"))
    assert done.returncode == 0 and pl.read_csv(tmp_path / "d.csv").height == 60
    shutil.copy(tmp_path / "d.csv", tmp_path / "a*" / "d.csv")
    shutil.copy(tmp_path / "d.csv", tmp_path / "ab" / "d.csv")
    done = rig("analyze", str(tmp_path / "a*" / "d.csv"), "--out", str(tmp_path / "e.csv"))
    assert done.returncode == 0 and pl.read_csv(tmp_path / "e.csv").height == 60


def test_a_file_to_import_under_brackets(tmp_path, rig):
    folder = tmp_path / "old[1]"
    folder.mkdir()
    (folder / "pc__rle_a.csv").write_text("timestamp,device,util_pct\n2025-10-27T09:04:30Z,gpu,50\n"
                                          "2025-10-27T09:04:31Z,gpu,60\n")
    done = rig("import", str(folder / "pc__rle_a.csv"), "--dir", str(tmp_path / "sessions"))
    assert done.returncode == 0 and "2 samples" in done.stdout, done.stderr
