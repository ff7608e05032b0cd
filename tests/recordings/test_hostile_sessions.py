"""Every reader and `replay` on every hostile session of `tests/recordings/hostile.py`.

A 1-minute simulated session is recorded once, given spans and events, and damaged once per case.
`tests/recordings/hostile_run.py` runs ls, ls --json, report, export (each format), analyze,
correlate, compare, replay (the app, under Textual's pilot), the replay picker and repair on each
case, in two subprocesses (a hang cannot stop the suite; an alarm in the runner names the run that
hung).  Each run either works, warnings allowed, or says one line and exits non-zero; never a
traceback or a hang; the session's files are as they were, except that replay, ls and repair may finish
the session, without losing a sample row.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.recordings.hostile import CASES, base_session, build_corpus
from tests.recordings.hostile_run import COMMANDS, FINISHERS
from tests.replay.conftest import record_sim

WORKERS = 2  # the runs mostly wait on the replay app's frames: two processes halve the time, not the CPU
TIMEOUT_S = 240


def _run_workers(corpus: Path, out: Path) -> list[dict[str, Any]]:
    names = sorted(CASES)
    env = {k: v for k, v in os.environ.items() if k != "RIGSCOPE_DIR"}
    workers = []
    for number in range(WORKERS):
        (out / str(number)).mkdir(parents=True)
        command = [sys.executable, "-m", "tests.recordings.hostile_run", str(corpus), str(out / str(number)),
                   *names[number::WORKERS]]
        workers.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        cwd=REPO, env=env))
    results = []
    for worker in workers:
        try:
            stdout, stderr = worker.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            worker.kill()
            stdout, stderr = worker.communicate()
            last = stdout.strip().splitlines()[-1:] or ["nothing"]
            raise AssertionError(f"the hostile corpus did not finish in {TIMEOUT_S} s; last run: {last[0][:300]}") from None
        assert worker.returncode == 0, stderr[-3000:]
        results += [json.loads(line) for line in stdout.splitlines()]
    return results


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    root = tmp_path_factory.mktemp("hostile")
    recorded = record_sim(root / "recorded", duration="1m", gpus=1)
    base = root / "base" / recorded.name
    shutil.copytree(recorded, base)
    base_session(base)
    build_corpus(base, root / "corpus")
    found: dict[str, list[dict[str, Any]]] = {}
    for result in _run_workers(root / "corpus", root / "out"):
        found.setdefault(result["case"], []).append(result)
    shutil.rmtree(root, ignore_errors=True)
    return found


def problem(run: dict[str, Any]) -> str | None:
    """What is wrong with one run, or None."""
    lines = [line for line in run["stderr"].splitlines() if line.strip()]
    if run["hung"]:
        return "hung"
    if run["crash"]:
        return f"traceback: {run['crash'].strip().splitlines()[-1]}"
    if "Traceback" in run["stderr"]:
        return f"traceback on stderr: {run['stderr'][-300:]}"
    if run["code"] != 0 and not (len(lines) == 1 and lines[0].startswith("rigscope: error: ")):
        return f"exit {run['code']} without one error line: {lines}"
    if run["code"] == 0 and any(line.startswith("rigscope: error") for line in lines):
        return f"an error, and exit 0: {lines}"
    if run["command"] not in FINISHERS and run["changed"]:
        return f"changed {run['changed']}"
    if run["command"] in FINISHERS and run["rows_after"] < run["rows_before"]:
        return f"sample rows lost: {run['rows_before']} -> {run['rows_after']}"
    return None


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_reader_survives(results, case):
    runs = results[case]
    assert [run["command"] for run in runs] == list(COMMANDS)
    problems = {run["command"]: found for run in runs if (found := problem(run))}
    assert not problems, json.dumps(problems, indent=1)


def test_the_picker_shows_every_hostile_session(results):
    assert [problem(run) for run in results["all"]] == [None] * WORKERS


def test_what_the_readers_say(results):
    """A few of the lines, for what they tell the user (the corpus checks only their shape)."""
    said = {(case, run["command"]): run["stderr"].strip() for case, runs in results.items() for run in runs}
    assert said[("events_fifo", "report")].endswith("events.jsonl: a FIFO, not a file")
    assert said[("events_link_to_urandom", "analyze")].endswith("events.jsonl: a device, not a file")
    assert "meta.json: unreadable (nested too deeply)" in said[("meta_deeply_nested_list", "report")]
    assert "meta.json: too large" in said[("meta_too_large", "replay")]
    assert "column ts holds text, not times" in said[("samples_ts_as_string", "correlate")]
    assert "spans.parquet: column cpu_cores holds text, not numbers" in said[("spans_every_column_a_string", "report")]
    assert "samples/part-000003.parquet: a directory, not a file; move it out of" in \
        said[("segments_subdirectory", "repair")]
    assert "skipped an invalid event line" in said[("events_huge_line", "report")]
    for case in ("segments_subdirectory", "segments_foreign_subdirectory"):  # refused before any change
        (repair,) = [run for run in results[case] if run["command"] == "repair"]
        assert repair["code"] == 1 and repair["changed"] == [] and repair["rows_after"] == repair["rows_before"] > 0
    listed = json.loads(next(run["stdout"] for run in results["meta_fifo"] if run["command"] == "ls --json"))
    assert [(row["status"], row["error"]) for row in listed] == [("corrupt", "meta.json: a FIFO, not a file")]
    ok = {(case, run["command"]) for case, runs in results.items() for run in runs if run["code"] == 0}
    assert {("meta_sample_hz_infinity", "replay"), ("meta_duration_nan", "ls"), ("meta_wrong_gpu_entries", "replay"),
            ("samples_non_finite", "replay"), ("samples_elapsed_null", "replay"), ("spans_fifo", "replay"),
            ("meta_unknown_column_types", "export csv")} <= ok
