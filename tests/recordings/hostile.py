"""Hostile session directories: one function per kind of damage, each applied to a copy of a real session.

`base_session` turns a recorded session into one that every reader has something to read in (spans,
events with notes, tags and a custom metric `loss`); `build_corpus` copies it once per case into a
sessions directory of its own and damages the copy.  The cases cover what a reader can meet on disk:
meta.json that is deeply nested, too large, not UTF-8 or holds NaN, Infinity and values of the wrong
type; files that are FIFOs, devices (symlinks to /dev/urandom and /dev/zero) or directories; cut or
foreign Parquet files, columns of the wrong type, null and non-finite values, all-null columns;
garbage and oversized lines in events.jsonl; unfinished sessions whose segments are damaged.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from recordings.spans import spans_table

Case = Callable[[Path], None]
METRIC = "loss"
DEAD_PID = 2**22 + 1  # above pid_max's default: never a live process


# -- the base session -------------------------------------------------------------------
def base_session(session: Path) -> None:
    """Add what a short simulated session lacks: finished spans, a note, a tag and metric points."""
    samples = pl.read_parquet(session / "samples.parquet", glob=False)
    ts = samples["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_list()
    spans = [{"request_id": f"r{i}", "name": "generate", "start_time": ts[i * 10], "end_time": ts[i * 10 + 5],
              "total_duration_s": 2.5, "success": i % 3 != 0, "rtf": 0.4, "tokens_per_second": 50.0,
              "text_length_tokens": 120, "energy_j": 300.0, "span_id": f"s{i}"} for i in range(6)]
    spans_table(spans).write_parquet(session / "spans.parquet")
    events = [{"ts": ts[3], "kind": "note", "text": "warm-up done", "source": "cli"},
              {"ts": ts[20], "kind": "tag", "state": "train", "source": "cli"},
              *({"ts": ts[i], "kind": "metric", "name": METRIC, "value": 2.0 - i / 100} for i in range(0, len(ts), 4))]
    (session / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


def _meta(session: Path) -> dict[str, Any]:
    return json.loads((session / "meta.json").read_text())


def _set_meta(session: Path, meta: Any) -> None:
    (session / "meta.json").write_text(json.dumps(meta))


def _update_meta(session: Path, change: Callable[[dict[str, Any]], None]) -> None:
    meta = _meta(session)
    change(meta)
    _set_meta(session, meta)


def interrupted(session: Path, journal: bool = True) -> None:
    """What a recorder killed mid-run leaves: status recording, a dead pid, the rows in a Parquet part
    and (with `journal`) the open segment's journal, its last line cut."""
    _update_meta(session, lambda m: (m.update(status="recording"), m.setdefault("recorder", {}).update(pid=DEAD_PID)))
    folder = session / "samples"
    folder.mkdir()
    if not journal:
        (session / "samples.parquet").rename(folder / "part-000001.parquet")
        return
    table = pl.read_parquet(session / "samples.parquet", glob=False)
    (session / "samples.parquet").unlink()
    half = table.height // 2
    table.head(half).write_parquet(folder / "part-000001.parquet")
    rows = table.tail(table.height - half).with_columns(pl.col("ts").dt.epoch("us")).to_dicts()
    text = "".join(json.dumps(row) + "\n" for row in rows)
    (folder / "part-000002.journal").write_text(text + text[: len(text) // len(rows) // 2])


def _replace(path: Path, make: Callable[[Path], None]) -> None:
    """`path` removed, then made again by `make` (a FIFO, a symlink, a directory)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    make(path)


def fifo(path: Path) -> None:
    _replace(path, os.mkfifo)


def directory(path: Path) -> None:
    _replace(path, lambda p: (p.mkdir(), (p / "part-000001.parquet").write_bytes(b"PAR1")))


def link_to(device: str) -> Case:
    return lambda path: _replace(path, lambda p: p.symlink_to(device))


def truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def garbage(path: Path) -> None:
    path.write_bytes(bytes((i * 131 + 7) % 256 for i in range(65_536)))  # not UTF-8, not JSON, not Parquet


def _rewrite(path: Path, change: Callable[[pl.DataFrame], pl.DataFrame]) -> None:
    change(pl.read_parquet(path, glob=False)).write_parquet(path)


def _numeric(table: pl.DataFrame) -> list[str]:
    return [name for name, dtype in table.schema.items() if dtype.is_numeric()]


def as_strings(table: pl.DataFrame) -> pl.DataFrame:
    """Every column (ts and times too) as text, as another tool might write it."""
    return table.select(pl.col(n).cast(pl.List(pl.String)).list.join(",") if isinstance(d, pl.List)
                        else pl.col(n).cast(pl.String) for n, d in table.schema.items())


def all_null(table: pl.DataFrame) -> pl.DataFrame:
    """Every column but `ts` without a value and without a type (Parquet's null type)."""
    return table.select(pl.col("ts") if "ts" in table.columns else pl.lit(None).alias("ts"),
                        *(pl.lit(None).alias(n) for n in table.columns if n != "ts"))


def non_finite(table: pl.DataFrame) -> pl.DataFrame:
    """NaN, +inf and -inf in turn in every float column (elapsed_s included)."""
    bad = pl.Series([float("nan"), float("inf"), float("-inf")] * (table.height // 3 + 1)).head(table.height)
    return table.with_columns(pl.when(pl.int_range(pl.len()) % 2 == 1).then(pl.lit(bad)).otherwise(pl.col(n))
                              .cast(table.schema[n]).alias(n)
                              for n, d in table.schema.items() if d.is_float())


def null_ts(table: pl.DataFrame) -> pl.DataFrame:
    return table.with_columns(pl.when(pl.int_range(pl.len()) % 7 == 3).then(None).otherwise(pl.col("ts")).alias("ts"))


# -- the cases ----------------------------------------------------------------------------
def _samples(change: Callable[[pl.DataFrame], pl.DataFrame]) -> Case:
    return lambda s: _rewrite(s / "samples.parquet", change)


def _spans(change: Callable[[pl.DataFrame], pl.DataFrame]) -> Case:
    return lambda s: _rewrite(s / "spans.parquet", change)


def _processes(change: Callable[[pl.DataFrame], pl.DataFrame]) -> Case:
    return lambda s: _rewrite(s / "processes.parquet", change)


def _on(name: str, damage: Case) -> Case:
    return lambda s: damage(s / name)


def _meta_with(change: Callable[[dict[str, Any]], None]) -> Case:
    return lambda s: _update_meta(s, change)


def _meta_text(text: str | bytes) -> Case:
    data = text.encode() if isinstance(text, str) else text
    return lambda s: (s / "meta.json").write_bytes(data)


def _events(*lines: str | bytes) -> Case:
    data = b"".join((line.encode() if isinstance(line, str) else line) + b"\n" for line in lines)
    return lambda s: (s / "events.jsonl").write_bytes(data)


def _append_event_line(line: str) -> Case:
    def append(session: Path) -> None:
        with open(session / "events.jsonl", "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    return append


def _interrupted_then(damage: Case | None = None, journal: bool = True) -> Case:
    def make(session: Path) -> None:
        interrupted(session, journal)
        if damage is not None:
            damage(session)
    return make


def _nested(meta: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, key = dotted.split(".")
    for parent in parents:
        meta = meta.setdefault(parent, {})
    meta[key] = value


def _meta_values(**values: Any) -> Case:
    return _meta_with(lambda m: [_nested(m, k.replace("__", "."), v) for k, v in values.items()])


def _wrong_types(meta: dict[str, Any]) -> None:
    meta.update(host="box", gpus="two", monitoring=[1], summary=5, recorder="me", session_start=17, columns=["ts"],
                total_samples="many", status=["complete"])


def _every_number(value: Any, replacement: float) -> Any:
    if isinstance(value, dict):
        return {k: _every_number(v, replacement) for k, v in value.items()}
    if isinstance(value, list):
        return [_every_number(v, replacement) for v in value]
    return replacement if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _processes_segment_subdir(session: Path) -> None:
    folder = session / "processes"
    folder.mkdir()
    (session / "processes.parquet").rename(folder / "part-000001.parquet")
    (folder / "part-000002.parquet").mkdir()


CASES: dict[str, Case] = {
    # meta.json
    "meta_deeply_nested_list": _meta_text("[" * 200_000),
    "meta_deeply_nested_object": _meta_text('{"a":' * 100_000),
    "meta_too_large": lambda s: _update_meta(s, lambda m: m.update(notes="x" * (17 * 2**20))),
    "meta_empty": _on("meta.json", empty),
    "meta_not_utf8": _meta_text(b'{"session_id": "\xff\xfe", "status": "complete"}'),
    "meta_garbage": _on("meta.json", garbage),
    "meta_not_an_object": _meta_text("[1, 2, 3]"),
    "meta_fifo": _on("meta.json", fifo),
    "meta_directory": _on("meta.json", directory),
    "meta_link_to_dev_zero": _on("meta.json", link_to("/dev/zero")),
    "meta_duration_nan": _meta_values(summary__duration_s=float("nan")),
    "meta_duration_infinity": _meta_values(summary__duration_s=float("inf"), total_samples=float("-inf")),
    "meta_sample_hz_infinity": _meta_values(monitoring__sample_hz=float("inf")),
    "meta_sample_hz_nan": _meta_values(monitoring__sample_hz=float("nan"), monitoring__flush_interval_s=float("nan")),
    "meta_sample_hz_huge": _meta_values(monitoring__sample_hz=1e300),
    "meta_number_overflow": _meta_text('{"session_id": "x", "status": "complete", "total_samples": 1e400, '
                                       '"monitoring": {"sample_hz": 1e999}, "summary": {"duration_s": -1e400}}'),
    "meta_huge_integer": _meta_values(monitoring__sample_hz=10**1000, total_samples=10**1000),
    "meta_every_number_nan": lambda s: _set_meta(s, _every_number(_meta(s), float("nan"))),
    "meta_every_number_infinity": lambda s: _set_meta(s, _every_number(_meta(s), float("inf"))),
    "meta_wrong_types": _meta_with(_wrong_types),
    "meta_wrong_gpu_entries": _meta_values(gpus=[1, "a", {"index": "zero"}, {"name": 5}, None]),
    "meta_wrong_summary_entries": _meta_values(summary__devices={"gpu0": 5, "cpu": [], "gpu1": {"max_temp_c": "hot"}},
                                               summary__spans=[], summary__workload_seconds={"idle": "long"}),
    "meta_wrong_times": _meta_values(session_start="yesterday", session_end=5, recorder__hostname=7),
    "meta_unknown_column_types": _interrupted_then(_meta_values(columns={"ts": "timestamp", "cpu_util_pct": 5})),
    # events.jsonl
    "events_fifo": _on("events.jsonl", fifo),
    "events_link_to_urandom": _on("events.jsonl", link_to("/dev/urandom")),
    "events_link_to_dev_zero": _on("events.jsonl", link_to("/dev/zero")),
    "events_directory": _on("events.jsonl", directory),
    "events_garbage": _on("events.jsonl", garbage),
    "events_huge_line": _append_event_line(json.dumps({"ts": "2026-01-01T00:00:00Z", "kind": "note",
                                                       "text": "x" * (4 * 2**20)})),
    "events_deeply_nested_line": _append_event_line("[" * 200_000),
    "events_wrong_types": _events('{"ts": 5, "kind": []}', '{"kind": "tag", "ts": "x", "state": 5}',
                                  '{"kind": "metric", "name": "loss", "value": "high", "ts": "2026-01-01T00:00:00Z"}',
                                  '{"kind": "metric", "name": "loss", "value": 1, "ts": "not a time"}',
                                  '{"kind": "note", "ts": "2026-13-45T99:99:99Z", "text": 5}', '[]', '5', 'null'),
    "events_non_finite_values": _events(*(f'{{"kind": "metric", "name": "loss", "value": {v}, '
                                          f'"ts": "2026-01-01T00:00:0{i}Z"}}'
                                          for i, v in enumerate(["NaN", "Infinity", "-Infinity", "1e999"]))),
    "events_not_utf8": _events(b'{"ts": "2026-01-01T00:00:00Z", "kind": "note", "text": "\xff\xfe"}', b"\xc3\x28"),
    # samples.parquet
    "samples_truncated": _on("samples.parquet", truncated),
    "samples_empty_file": _on("samples.parquet", empty),
    "samples_garbage": _on("samples.parquet", garbage),
    "samples_fifo": _on("samples.parquet", fifo),
    "samples_directory": _on("samples.parquet", directory),
    "samples_link_to_dev_zero": _on("samples.parquet", link_to("/dev/zero")),
    "samples_ts_as_string": _samples(lambda t: t.with_columns(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))),
    "samples_ts_null": _samples(null_ts),
    "samples_ts_all_null": _samples(lambda t: t.with_columns(pl.lit(None, pl.Datetime("us", "UTC")).alias("ts"))),
    "samples_no_ts": _samples(lambda t: t.drop("ts")),
    "samples_elapsed_null": _samples(lambda t: t.with_columns(pl.lit(None, pl.Float64).alias("elapsed_s"))),
    "samples_non_finite": _samples(non_finite),
    "samples_all_null_columns": _samples(all_null),
    "samples_every_column_a_string": _samples(as_strings),
    "samples_no_rows": _samples(lambda t: t.head(0)),
    "samples_ts_backwards": _samples(lambda t: t.reverse()),
    "samples_foreign_table": _samples(lambda t: pl.DataFrame({"a": [1, 2], "b": ["x", "y"]})),
    # spans.parquet
    "spans_every_column_a_string": _spans(as_strings),
    "spans_all_null_columns": _spans(lambda t: t.select(pl.lit(None).alias(n) for n in t.columns)),
    "spans_non_finite": _spans(non_finite),
    "spans_truncated": _on("spans.parquet", truncated),
    "spans_fifo": _on("spans.parquet", fifo),
    "spans_directory": _on("spans.parquet", directory),
    # processes.parquet
    "processes_every_column_a_string": _processes(as_strings),
    "processes_ts_null": _processes(null_ts),
    "processes_all_null_columns": _processes(all_null),
    "processes_truncated": _on("processes.parquet", truncated),
    "processes_fifo": _on("processes.parquet", fifo),
    "processes_segment_subdirectory": _processes_segment_subdir,
    # an unfinished session's segments
    "segments_subdirectory": _interrupted_then(lambda s: (s / "samples" / "part-000003.parquet").mkdir()),
    "segments_foreign_subdirectory": _interrupted_then(lambda s: (s / "samples" / "old").mkdir()),
    "segments_fifo_journal": _interrupted_then(lambda s: fifo(s / "samples" / "part-000002.journal")),
    "segments_journal_link_to_urandom": _interrupted_then(
        lambda s: link_to("/dev/urandom")(s / "samples" / "part-000002.journal")),
    "segments_journal_garbage": _interrupted_then(lambda s: garbage(s / "samples" / "part-000002.journal")),
    "segments_journal_wrong_types": _interrupted_then(lambda s: (s / "samples" / "part-000002.journal").write_text(
        '{"ts": "now", "elapsed_s": "x", "cpu_util_pct": [1]}\n{"ts": null}\n[1]\n')),
    "segments_part_truncated": _interrupted_then(lambda s: truncated(s / "samples" / "part-000001.parquet")),
    "segments_part_ts_as_string": _interrupted_then(lambda s: _rewrite(
        s / "samples" / "part-000001.parquet", lambda t: t.with_columns(pl.col("ts").cast(pl.String))), journal=False),
    "spans_journal_fifo": _interrupted_then(lambda s: ((s / "spans.parquet").unlink(), fifo(s / "spans.journal"))),
    "spans_journal_garbage": _interrupted_then(lambda s: ((s / "spans.parquet").unlink(),
                                                          garbage(s / "spans.journal"))),
}


def build_corpus(base: Path, root: Path) -> dict[str, Path]:
    """Each case in a sessions directory of its own under `root` (`root/<case>/<session>`); case -> session."""
    made = {}
    for name, damage in CASES.items():
        session = root / name / base.name
        shutil.copytree(base, session, symlinks=True)
        damage(session)
        made[name] = session
    return made
