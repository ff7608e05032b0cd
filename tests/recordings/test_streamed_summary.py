"""The summary `repair` recomputes a slice at a time equals the whole-table one (`analyze_frame`) and the live one."""

from __future__ import annotations

from recordings import streamed_summary
from recordings.analyze import analyze_frame
from recordings.reader import read_samples
from recordings.streamed_summary import summary_of
from tests.recordings.test_recorder import record


def test_slices_give_the_summary_of_the_whole_table(tmp_path, monkeypatch):
    session, _ = record(tmp_path, seconds=120, hz=10, gpus=2, formats=("parquet",))
    tag_list = [(1_800_000_030_000_000, "eval")]  # 30 s in
    _, whole, _ = analyze_frame(read_samples(session), tag_list)
    assert whole["samples"] == 1200 and whole["workload_seconds"].get("eval")
    monkeypatch.setattr(streamed_summary, "SLICE_ROWS", 77)  # slice edges fall anywhere in the windows
    assert summary_of(session / "samples.parquet", [0, 1], tag_list) == whole
