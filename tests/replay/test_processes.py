"""Processes in replay (the rows recorded at the position) and the collapse attribution for reports."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl

from recordings.process_attribution import processes_during
from recordings.report.sections_processes import TITLE, collapse_section
from tests.replay.conftest import ReplayHarness, run, wait_at, wait_until
from tests.tui.conftest import screen_text as screen_text_of
from tui.processes import ProcessesPane


def recorded_rows(session: Path, at_us: int) -> list[dict]:
    table = pl.read_parquet(session / "processes.parquet").with_columns(pl.col("ts").dt.epoch("us"))
    tick = table.filter(pl.col("ts") <= at_us).get_column("ts").max()
    return table.filter(pl.col("ts") == tick).to_dicts()


def test_the_pane_shows_the_processes_recorded_at_the_replay_position(recorded: Path) -> None:
    async def body() -> None:
        async with ReplayHarness(recorded) as (pilot, app, source):
            await pilot.press("p")
            for index in (100, 700):
                source.seek_index(index)
                await wait_at(pilot, source, index)
                expected = recorded_rows(recorded, source.reader.ts_us[index])
                pane = app.query_one(ProcessesPane)
                wanted = {r["pid"]: r["gpu_mem_bytes"] for r in expected}
                await wait_until(pilot, lambda: {r["pid"]: r["gpu_mem_bytes"] for r in pane.rows} == wanted,
                                 what=f"the rows of the tick at row {index}")
            assert "not visible from this namespace" in screen_text_of(app)
            await pilot.press("k")  # a replay ends nothing
            assert any("replay" in m for m, _ in app.test_notifications.seen)  # type: ignore[attr-defined]

    run(body)


def test_a_session_without_process_rows_says_so(recorded: Path, tmp_path: Path) -> None:
    old = tmp_path / recorded.name
    shutil.copytree(recorded, old)
    (old / "processes.parquet").unlink()

    async def body() -> None:
        async with ReplayHarness(old) as (pilot, app, source):
            await pilot.press("p")
            assert source.processes() is None
            await wait_until(pilot, lambda: "no process list here" in screen_text_of(app), what="the empty-list line")

    run(body)


def test_collapse_attribution_names_the_processes_that_held_each_gpu(recorded: Path) -> None:
    section = collapse_section(recorded)
    assert section.startswith(TITLE)
    assert section.count("### gpu") == 2  # the scenario's one collapse per GPU
    gpu0 = section.split("### gpu0")[1].split("###")[0]
    assert "python train.py --config llama-7b.yaml --local-rank 0" in gpu0 and "jupyter" in gpu0
    assert "not visible from this namespace" in section.split("### gpu1")[1]
    table = pl.read_parquet(recorded / "processes.parquet")
    ts = table.get_column("ts").dt.epoch("us")
    start, end = int(ts.min()), int(ts.min()) + 5_000_000
    held = processes_during(recorded, start, end, "gpu1")
    assert {p["pid"] for p in held} == set(table.filter(pl.col("gpu") == 1).get_column("pid").unique().to_list())
    assert all(p["ticks"] >= 1 for p in held) and held[0]["max_gpu_mem_bytes"] >= held[-1]["max_gpu_mem_bytes"]
    assert processes_during(recorded, start, end, "cpu") == []
    assert processes_during(recorded, 0, 1, "gpu0") == []  # before the session: nothing


def test_collapse_times_are_found_a_chunk_of_samples_at_a_time(recorded: Path, monkeypatch) -> None:
    """The samples are read in chunks (memory flat in the session's length); the same section."""
    from recordings.report import sections_processes

    whole = collapse_section(recorded)
    monkeypatch.setattr(sections_processes, "CHUNK_ROWS", 7)
    assert collapse_section(recorded) == whole


def test_the_report_names_the_processes_during_each_collapse(recorded: Path) -> None:
    from recordings.report import build_report

    report = build_report(recorded, warn=False)
    assert collapse_section(recorded) in report
    assert report.index("## Collapse events") < report.index(TITLE)


def test_a_foreign_collapse_event_and_hostile_process_text_keep_the_section_whole(recorded: Path,
                                                                                    tmp_path: Path) -> None:
    """An events.jsonl another tool wrote (min_rle "y", a device name with a line break) and a command line with
    markup: the section is made (it raised TypeError), its heading stays one line, each table row one row."""
    import json

    session = tmp_path / recorded.name
    shutil.copytree(recorded, session)
    events = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    for event in events:
        if event.get("kind") == "collapse_end":
            event["min_rle"] = "y"
    gpu0 = next(e for e in events if e.get("kind") == "collapse_end" and e.get("device") == "gpu0")
    events.append({**gpu0, "device": "gpu0\n# owned <script>"})
    (session / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    table = pl.read_parquet(session / "processes.parquet")
    table = table.with_columns(pl.lit("evil\n| x | `y` <b>z</b>").alias("command"))
    table.write_parquet(session / "processes.parquet")
    section = collapse_section(session)
    headings = [line for line in section.splitlines() if line.startswith("#")]
    assert all("(min RLE —)" in line for line in headings[1:]) and len(headings) == 1 + 3
    assert not any(line.startswith("# owned") for line in section.splitlines())
    rows = [line for line in section.splitlines() if line.startswith("| ") and "evil" in line]
    assert rows and all(line.count(" | ") == 5 and line.count("<") == line.count("\\<") for line in rows)


def test_compare_groups_by_the_user_who_held_the_most_gpu_memory(recorded: Path, tmp_path: Path) -> None:
    from recordings.compare.collect import session_figures
    from recordings.compare.groups import compare

    table = pl.read_parquet(recorded / "processes.parquet").drop_nulls(["user", "gpu"])
    held = table.group_by("user").agg(pl.col("gpu_mem_bytes").sum()).sort("gpu_mem_bytes", descending=True)
    bare = tmp_path / recorded.name
    shutil.copytree(recorded, bare)
    (bare / "processes.parquet").unlink()
    groups = compare([session_figures(recorded), session_figures(bare)], by="user")
    assert [g["group"] for g in groups] == [held.item(0, "user"), "unknown"]
