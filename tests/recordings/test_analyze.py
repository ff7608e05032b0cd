"""Offline recompute (`recordings.analyze`): fixtures, live/offline agreement, output formats, bad input."""

from __future__ import annotations

import json
import math
import os
import socket
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.schema import derived_columns
from collectors.signals import SignalPipeline
from recordings import analyze as analyze_module
from recordings.analyze import analyze, analyze_frame, read_samples_file, read_tags
from recordings.errors import InputError
from tests.collectors.test_signals_fixtures import (
    FIXTURES,
    TRACES,
    assert_events_match,
    assert_rows_match,
    assert_summary_matches,
    needs_fixtures,
    read_trace,
)
from tests.conftest import run_cli

T0_US = 1_773_480_413_000_000


@needs_fixtures
@pytest.mark.parametrize("name", TRACES)
def test_analyze_reproduces_fixture(name: str, tmp_path: Path) -> None:
    _, _, expected_rows, expected = read_trace(name)
    out = tmp_path / "out.parquet"
    summary = analyze(FIXTURES / f"{name}.csv", out, FIXTURES / f"{name}.events.jsonl")
    assert_summary_matches(summary, expected["summary"])
    assert_rows_match(pl.read_parquet(out).to_dicts(), expected_rows)

    frame = read_samples_file(FIXTURES / f"{name}.csv")
    _, _, events = analyze_frame(frame, read_tags(FIXTURES / f"{name}.events.jsonl"))
    assert_events_match([e for e in events if e["kind"] == "collapse_end"], expected["collapse_events"])


@needs_fixtures
def test_csv_and_parquet_outputs_hold_the_same_values(tmp_path: Path) -> None:
    name = next(n for n in TRACES if n.startswith("gpu"))
    source = FIXTURES / f"{name}.csv"
    analyze(source, tmp_path / "out.csv", FIXTURES / f"{name}.events.jsonl")
    analyze(source, tmp_path / "out.parquet", FIXTURES / f"{name}.events.jsonl")
    text = (tmp_path / "out.csv").read_text().splitlines()
    header = text[0].split(",")
    assert header[: len(pl.read_csv(source, n_rows=0).columns)] == pl.read_csv(source, n_rows=0).columns
    assert header[-2:] == ["workload_state", "workload_source"]
    assert text[1].split(",")[0].endswith("Z")
    from_csv = read_samples_file(tmp_path / "out.csv")
    from_parquet = pl.read_parquet(tmp_path / "out.parquet")
    assert from_parquet.schema["ts"] == pl.Datetime("us", "UTC")
    assert from_csv["ts"].to_list() == from_parquet["ts"].to_list()
    for column in derived_columns([0]):
        left, right = from_csv[column].to_list(), from_parquet[column].to_list()
        if column.endswith("_alerts"):
            left = [v or "" for v in left]
        assert left == right, column


def frames_strategy() -> st.SearchStrategy[list[dict[str, Any]]]:
    maybe = lambda s: st.one_of(st.none(), st.just(float("nan")), s)  # noqa: E731
    row = st.fixed_dictionaries({
        "dt": st.floats(0.05, 3.0),
        "cpu_util_pct": maybe(st.floats(0, 100)),
        "cpu_temp_c": maybe(st.floats(30, 100)),
        "cpu_power_w": maybe(st.floats(0, 150)),
        "mem_util_pct": maybe(st.floats(0, 100)),
        "disk_write_bps": maybe(st.floats(0, 2e8)),
        "gpu0_util_pct": maybe(st.floats(0, 100)),
        "gpu0_temp_c": maybe(st.floats(30, 100)),
        "gpu0_power_w": maybe(st.floats(0, 300)),
        "gpu0_power_limit_w": st.one_of(st.none(), st.just(250.0)),
        "gpu0_throttle_reasons": st.one_of(st.none(), st.sampled_from([0, 1, 4, 0x20, 0x44, 0x80, 0x100])),
        "gpu1_util_pct": maybe(st.floats(0, 100)),
        "gpu1_temp_c": maybe(st.floats(30, 100)),
        "gpu1_power_w": maybe(st.floats(0, 300)),
        "repeat": st.integers(1, 40),
    })  # fmt: skip
    return st.lists(row, min_size=1, max_size=20)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=frames_strategy(), tag_at=st.one_of(st.none(), st.integers(0, 200)))
def test_live_path_and_analyze_frame_agree_exactly(rows: list[dict[str, Any]], tag_at: int | None) -> None:
    frames = []
    t = 0.0
    for row in rows:
        for _ in range(row["repeat"]):
            item = {key: value for key, value in row.items() if key not in ("dt", "repeat")}
            item.update(ts=T0_US + round(t * 1e6), elapsed_s=t, cpu_power_limit_w=65.0, gpu1_power_limit_w=250.0,
                        gpu0_temp_limit_c=None, gpu1_temp_limit_c=87.0, gpu1_throttle_reasons=0)
            frames.append(item)
            t += row["dt"]
    tags = [] if tag_at is None else [(T0_US + tag_at * 1_000_000, "eval"), (T0_US + (tag_at + 30) * 1_000_000, "auto")]

    table = pl.DataFrame(
        {key: [f[key] for f in frames] for key in frames[0]},
        schema_overrides={"gpu0_throttle_reasons": pl.UInt64, "gpu0_temp_limit_c": pl.Float64},
    ).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
    saved = analyze_module.CHUNK_ROWS
    analyze_module.CHUNK_ROWS = 37  # several chunks: the pipeline must carry its state across them
    try:
        result, summary, events = analyze_frame(table, tags)
    finally:
        analyze_module.CHUNK_ROWS = saved

    pipeline = SignalPipeline([0, 1])
    for ts_us, state in tags:
        pipeline.add_tag(ts_us, state)
    live_events = []
    for item in frames:
        live_events += pipeline.process(item)
    live_events += pipeline.finish()

    for column in derived_columns([0, 1]):
        assert result[column].to_list() == [f[column] for f in frames], column
    assert events == live_events
    assert json.dumps(summary, sort_keys=True) == json.dumps(pipeline.summary(), sort_keys=True)


def write_csv(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_missing_columns_are_named(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "s.csv", "ts,cpu_util_pct,gpu0_util_pct,gpu0_temp_c",
                       "2026-03-14T09:26:53Z,1,2,3")  # fmt: skip
    with pytest.raises(InputError) as error:
        read_samples_file(source)
    message = str(error.value)
    assert "elapsed_s" in message and "gpu0_power_w" in message and "gpu0_power_limit_w" in message
    assert "\n" not in message


def test_backwards_time_names_the_row(tmp_path: Path) -> None:
    rows = ["2026-03-14T09:26:53Z,0.0,1", "2026-03-14T09:26:54Z,1.0,1", "2026-03-14T09:26:55Z,0.5,1"]
    source = write_csv(tmp_path / "s.csv", "ts,elapsed_s,cpu_util_pct", *rows)
    with pytest.raises(InputError, match=r"elapsed_s goes backwards at row 3\b"):
        read_samples_file(source)


def test_wall_clock_going_back_is_not_an_error(tmp_path: Path) -> None:
    """The wall clock steps (NTP, a resumed VM); the samples' order is the monotonic elapsed_s."""
    rows = ["2026-03-14T09:26:53Z,0.0,1", "2026-03-14T08:26:54Z,1.0,1", "2026-03-14T09:26:55Z,2.0,1"]
    frame = read_samples_file(write_csv(tmp_path / "s.csv", "ts,elapsed_s,cpu_util_pct", *rows))
    assert frame["elapsed_s"].to_list() == [0.0, 1.0, 2.0]


def test_unreadable_files(tmp_path: Path) -> None:
    corrupt = tmp_path / "s.parquet"
    corrupt.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InputError, match="cannot read"):
        read_samples_file(corrupt)
    with pytest.raises(InputError, match="cannot read"):
        analyze(tmp_path / "missing.csv", tmp_path / "out.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="cannot read"):
        read_samples_file(empty)
    bad_ts = write_csv(tmp_path / "ts.csv", "ts,elapsed_s,cpu_util_pct", "2026-03-14T09:26:53Z,0,1", "yesterday,1,1")
    with pytest.raises(InputError, match="row 2"):
        read_samples_file(bad_ts)


def test_unknown_output_extension(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "s.csv", "ts,elapsed_s,cpu_util_pct", "2026-03-14T09:26:53Z,0,1")
    with pytest.raises(InputError, match="unknown output format"):
        analyze(source, tmp_path / "out.xlsx")


def test_empty_cells_and_nan_are_null_and_old_derived_columns_are_replaced(tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "s.csv",
        "ts,elapsed_s,cpu_util_pct,cpu_temp_c,cpu_power_w,cpu_power_limit_w,cpu_a_load,workload_state",
        "2026-03-14T09:26:53Z,0.0,50,NaN,,65,9.9,stale",
        "2026-03-14T09:26:53.5+00:00,0.5,50,60,32.5,65,9.9,stale",
    )
    summary = analyze(source, tmp_path / "out.csv")
    out = pl.read_csv(tmp_path / "out.csv")
    assert out.columns.count("cpu_a_load") == 1
    assert out["cpu_a_load"].to_list() == [None, 0.5]
    assert out["workload_state"].to_list() == ["data_prep", "data_prep"]
    assert out["ts"].to_list() == ["2026-03-14T09:26:53.000000Z", "2026-03-14T09:26:53.500000Z"]
    assert summary["devices"]["cpu"]["max_temp_c"] == 60.0


def test_list_columns_are_flattened_in_csv(tmp_path: Path) -> None:
    table = pl.DataFrame({
        "ts": [T0_US, T0_US + 1_000_000],
        "elapsed_s": [0.0, 1.0],
        "cpu_util_pct": [10.0, 20.0],
        "cpu_core_util_pct": [[1.0, 2.0], [3.0, 4.0]],
        "mem_util_pct": [50.0, 50.0],
    }).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")), pl.col("cpu_core_util_pct").cast(pl.List(pl.Float32)))  # fmt: skip
    table.write_parquet(tmp_path / "s.parquet")
    analyze(tmp_path / "s.parquet", tmp_path / "out.csv")
    analyze(tmp_path / "s.parquet", tmp_path / "out.parquet")
    header = pl.read_csv(tmp_path / "out.csv").columns
    assert header[:5] == ["ts", "elapsed_s", "cpu_util_pct", "cpu_core0_util_pct", "cpu_core1_util_pct"]
    assert pl.read_parquet(tmp_path / "out.parquet").schema["cpu_core_util_pct"] == pl.List(pl.Float32)


def test_events_file_tags_and_invalid_lines(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "s.csv", "ts,elapsed_s,cpu_util_pct",
                       *(f"2026-03-14T09:27:{k:02d}Z,{k}.0,5" for k in range(10)))  # fmt: skip
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"ts": "2026-03-14T09:27:03Z", "kind": "tag", "state": "eval", "source": "cli"}\n'
        '{"ts": "2026-03-14T09:27:01Z", "kind": "note", "text": "hello"}\n'
        "{not json\n"
        '{"ts": "2026-03-14T09:27:06Z", "kind": "tag", "state": "auto", "source": "cli"}\n'
        '{"ts": "2026-03-14T09:27:0'
    )
    summary = analyze(source, tmp_path / "out.parquet", events)
    states = pl.read_parquet(tmp_path / "out.parquet")["workload_state"].to_list()
    assert states == ["idle"] * 3 + ["eval"] * 3 + ["idle"] * 4
    assert summary["workload_seconds"] == {"idle": 6.0, "eval": 3.0}
    with pytest.raises(InputError, match="cannot read"):
        analyze(source, tmp_path / "out.csv", tmp_path / "nope.jsonl")


def test_session_directory_input(tmp_path: Path) -> None:
    session = tmp_path / "20260314-092653-box"
    session.mkdir()
    count = 80
    table = pl.DataFrame({
        "ts": [T0_US + k * 1_000_000 for k in range(count)],
        "elapsed_s": [float(k) for k in range(count)],
        "cpu_util_pct": [90.0] * count,
        "disk_write_bps": [0.0] * count,
        "gpu0_util_pct": [95.0] * count,
        "gpu0_temp_c": [60.0] * count,
        "gpu0_power_w": [100.0] * count,
        "gpu0_power_limit_w": [250.0] * count,
        "gpu0_throttle_reasons": [0] * count,
    }).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")), pl.col("gpu0_throttle_reasons").cast(pl.UInt64))  # fmt: skip
    table.write_parquet(session / "samples.parquet")
    (session / "meta.json").write_text(json.dumps({"format": "rigscope-session/1", "status": "complete",
                                                   "gpus": [{"index": 0}]}))  # fmt: skip
    (session / "events.jsonl").write_text(
        json.dumps({"ts": "2026-03-14T09:26:56Z", "kind": "tag", "state": "train", "source": "cli"}) + "\n"
    )
    summary = analyze(session, tmp_path / "out.parquet")
    out = pl.read_parquet(tmp_path / "out.parquet")
    assert out["workload_state"].to_list()[:5] == ["compute"] * 3 + ["train"] * 2
    assert summary["samples"] == count and summary["duration_s"] == count - 1
    assert summary["devices"]["gpu0"]["max_power_w"] == 100.0
    assert math.isclose(out["gpu0_a_load"][0], 0.4)


def test_a_session_goes_through_in_chunks_with_the_same_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read, derived and written a chunk at a time (memory flat in the session's length), as one table would be."""
    from tests.recordings.report_sessions import record

    session = record(tmp_path, seconds=400.0, hz=2.0, gpus=2)  # one collapse per GPU at about 315-375 s
    whole_summary = analyze(session, tmp_path / "whole.parquet")
    whole = pl.read_parquet(tmp_path / "whole.parquet")

    sizes: list[int] = []
    add = analyze_module.Analysis.add
    monkeypatch.setattr(analyze_module.Analysis, "add", lambda self, chunk: sizes.append(chunk.height) or add(self, chunk))
    monkeypatch.setattr(analyze_module, "CHUNK_ROWS", 64)
    summary = analyze(session, tmp_path / "chunked.parquet")
    assert max(sizes) == 64 and sum(sizes) == whole.height == 800
    assert summary == whole_summary and summary["devices"]["gpu0"]["collapse_events"] >= 1
    assert pl.read_parquet(tmp_path / "chunked.parquet").equals(whole)
    analyze(session, tmp_path / "chunked.csv")
    csv = pl.read_csv(tmp_path / "chunked.csv")
    assert csv.height == 800 and csv["gpu1_rle_smoothed"].to_list() == pytest.approx(whole["gpu1_rle_smoothed"].to_list())
    assert csv.columns.count("cpu_core0_util_pct") == 1 and "cpu_core_util_pct" not in csv.columns


def test_time_going_back_in_a_later_chunk_names_the_row_of_the_file(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    elapsed = [0.0, 1.0, 2.0, 3.0, 4.0, 3.5, 6.0]
    pl.DataFrame({"ts": [T0_US + k * 1_000_000 for k in range(7)], "elapsed_s": elapsed, "cpu_util_pct": [1.0] * 7}) \
        .with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC"))).write_parquet(tmp_path / "s.parquet")
    monkeypatch.setattr(analyze_module, "CHUNK_ROWS", 3)
    with pytest.raises(InputError, match=r"elapsed_s goes backwards at row 6 \(3.5 after 4.0\)"):
        analyze(tmp_path / "s.parquet", tmp_path / "out.parquet")
    monkeypatch.setattr(analyze_module, "CHUNK_ROWS", 5)  # the row before the chunk is the one it went back from
    with pytest.raises(InputError, match=r"elapsed_s goes backwards at row 6 \(3.5 after 4.0\)"):
        analyze(tmp_path / "s.parquet", tmp_path / "out.parquet")
    assert not list(tmp_path.glob(".out.parquet*"))  # no temp file left behind


def test_an_unfinished_session_goes_through_segment_by_segment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crashed session has no samples.parquet: its parts and its open journal are read one at a time."""
    from tests.recordings.report_sessions import record

    session = record(tmp_path, seconds=100.0, hz=2.0)
    whole_summary = analyze(session, tmp_path / "whole.parquet")
    samples = pl.read_parquet(session / "samples.parquet")
    (session / "samples").mkdir()
    samples.slice(0, 90).write_parquet(session / "samples" / "part-000001.parquet")
    journal = samples.slice(90).with_columns(pl.col("ts").dt.epoch("us")).drop("cpu_core_util_pct")
    (session / "samples" / "part-000002.journal").write_text(
        "".join(json.dumps(row) + "\n" for row in journal.to_dicts()) + '{"ts": 1')  # a cut last line
    (session / "samples.parquet").unlink()
    sizes: list[int] = []
    add = analyze_module.Analysis.add
    monkeypatch.setattr(analyze_module.Analysis, "add", lambda self, chunk: sizes.append(chunk.height) or add(self, chunk))
    monkeypatch.setattr(analyze_module, "CHUNK_ROWS", 64)
    assert analyze(session, tmp_path / "parts.parquet") == whole_summary
    assert sizes == [64, 26, 64, 46]
    names = list(derived_columns([0]))
    assert pl.read_parquet(tmp_path / "parts.parquet").select(names).equals(
        pl.read_parquet(tmp_path / "whole.parquet").select(names))


def test_a_source_without_samples_is_refused(tmp_path: Path) -> None:
    """No samples: one line and exit 1, no output file; not a summary that says 0 collapses of nothing."""
    session = tmp_path / "20260314-092653-box"
    session.mkdir()
    pl.DataFrame({"ts": [], "elapsed_s": [], "cpu_util_pct": []},
                 schema={"ts": pl.Datetime("us", "UTC"), "elapsed_s": pl.Float64, "cpu_util_pct": pl.Float64},
                 ).write_parquet(session / "samples.parquet")
    (session / "meta.json").write_text(json.dumps({"format": "rigscope-session/1", "status": "complete", "gpus": []}))
    header_only = write_csv(tmp_path / "s.csv", "ts,elapsed_s,cpu_util_pct")
    for source in (session, header_only, session / "samples.parquet"):
        with pytest.raises(InputError, match=r"no samples$"):
            analyze(source, tmp_path / "out.parquet")
        assert not (tmp_path / "out.parquet").exists()
    result = run_cli("analyze", str(session), "--out", str(tmp_path / "out.csv"))
    assert (result.returncode, result.stdout) == (1, "") and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("rigscope: error: ") and not (tmp_path / "out.csv").exists()


def test_a_missing_samples_file_is_not_called_a_session(tmp_path: Path) -> None:
    result = run_cli("analyze", str(tmp_path / "samples.csv"), "--out", str(tmp_path / "out.csv"),
                     "--dir", str(tmp_path))
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert result.stderr.strip().endswith("samples.csv: no such file or directory"), result.stderr


def test_another_tools_trace_points_to_import(tmp_path: Path) -> None:
    """An nvidia-smi log handed to analyze: its missing columns, and the command that reads it."""
    source = write_csv(tmp_path / "smi.csv", "timestamp, name, utilization.gpu [%], power.draw [W]",
                       "2025/09/08 09:26:50.123, NVIDIA A100, 35 %, 60.00 W")
    result = run_cli("analyze", str(source), "--out", str(tmp_path / "out.csv"))
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "missing columns ts, elapsed_s, cpu_util_pct; not rigscope samples: rigscope import reads" in result.stderr


def test_a_session_still_recording_is_said_on_stderr(tmp_path: Path) -> None:
    session = tmp_path / "20260314-092653-box"
    session.mkdir()
    write_csv(tmp_path / "s.csv", "ts,elapsed_s,cpu_util_pct", "2026-03-14T09:26:53Z,0,1", "2026-03-14T09:26:54Z,1,1")
    read_samples_file(tmp_path / "s.csv").write_parquet(session / "samples.parquet")
    recorder = {"hostname": socket.gethostname(), "pid": os.getpid()}  # alive, on this host
    (session / "meta.json").write_text(json.dumps({"format": "rigscope-session/1", "status": "recording",
                                                   "recorder": recorder, "gpus": []}))
    result = run_cli("analyze", str(session), "--out", str(tmp_path / "out.parquet"))
    assert result.returncode == 0 and json.loads(result.stdout)["samples"] == 2
    assert result.stderr == f"rigscope: {session.name} is still recording: derived from its samples so far\n"
