"""`rigscope correlate` on a generated session whose metric leads the GPU's RLE by 3 s."""

from __future__ import annotations

import json
import math
import os
import socket
from pathlib import Path

import polars as pl
import pytest

from collectors.timeutil import us_from_iso
from recordings.correlate import correlate
from recordings.errors import InputError
from tests.conftest import run_cli

T0_US = 1_800_000_000_000_000
HZ = 10
SECONDS = 300
LEAD_S = 3


def signal(t: float) -> float:
    """A smooth, non-periodic-looking metric (incommensurate sines)."""
    return math.sin(2 * math.pi * t / 37.0) + 0.6 * math.sin(2 * math.pi * t / 11.3) + 0.3 * math.sin(t / 2.9)


def make_session(root: Path, metrics: bool = True) -> Path:
    session = root / "20270115-080000-test"
    session.mkdir(parents=True)
    ks = range(SECONDS * HZ)
    t = [k / HZ for k in ks]
    gpu_rle = [1.0 - 0.15 * signal(x - LEAD_S) for x in t]  # the metric leads the RLE by LEAD_S
    cpu_rle = [0.9 + 0.05 * math.sin(x * 7.7) * math.cos(x * 3.1) for x in t]  # unrelated
    table = pl.DataFrame({
        "ts": [T0_US + k * 100_000 for k in ks],
        "elapsed_s": t,
        "cpu_rle_smoothed": cpu_rle,
        "cpu_collapse": [0] * len(t),
        "gpu0_rle_smoothed": gpu_rle,
        "gpu0_collapse": [int(v < 0.8) for v in gpu_rle],
    }).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")), pl.col("cpu_collapse", "gpu0_collapse").cast(pl.Int8))
    table.write_parquet(session / "samples.parquet")
    (session / "meta.json").write_text(json.dumps({"format": "rigscope-session/1", "session_id": session.name,
                                                   "status": "complete", "gpus": [{"index": 0}]}))
    lines = []
    if metrics:
        for half in range(SECONDS * 2):  # 2 Hz
            x = half / 2
            ts = T0_US + half * 500_000 + 1000
            lines.append({"ts": iso(ts), "kind": "metric", "name": "grad_norm", "value": signal(x), "step": half})
            lines.append({"ts": iso(ts), "kind": "metric", "name": "loss", "value": 1.0 / (1 + x), "step": half})
    lines.append({"ts": iso(T0_US), "kind": "note", "text": "start", "source": "cli"})
    (session / "events.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return session


def iso(ts_us: int) -> str:
    from collectors.timeutil import iso_from_us

    return iso_from_us(ts_us)


def test_the_planted_lead_is_found(tmp_path):
    session = make_session(tmp_path)
    result = correlate(session, "grad_norm")
    assert result["points"] == SECONDS * 2
    devices = {d["device"]: d for d in result["devices"]}
    gpu = devices["gpu0"]
    assert gpu["best"]["lag_s"] == LEAD_S and gpu["best"]["r"] < -0.95
    by_lag = {lag["lag_s"]: lag["r"] for lag in gpu["lags"]}
    assert sorted(by_lag) == list(range(-10, 11))
    assert abs(by_lag[-LEAD_S]) < abs(by_lag[LEAD_S])
    flags = [int(1.0 - 0.15 * signal(k / HZ - LEAD_S) < 0.8) for k in range(SECONDS * HZ)]
    assert gpu["collapses"] == sum(1 for a, b in zip([0, *flags], flags) if b and not a) > 0
    # the metric runs high in collapses (it drove them 3 s earlier)
    assert gpu["inside"]["points"] > 0 and gpu["inside"]["mean"] > gpu["outside"]["mean"] + 0.5
    assert gpu["inside"]["max"] <= max(signal(h / 2) for h in range(SECONDS * 2))
    assert gpu["inside"]["points"] + gpu["outside"]["points"] == SECONDS * 2
    cpu = devices["cpu"]
    assert cpu["collapses"] == 0 and cpu["inside"]["points"] == 0 and cpu["inside"]["mean"] is None
    assert all(lag["r"] is None or abs(lag["r"]) < 0.3 for lag in cpu["lags"])


def test_command_json_and_terminal_output(tmp_path):
    session = make_session(tmp_path / "sessions")
    result = run_cli("correlate", session.name, "grad_norm", "--json", "--dir", str(tmp_path / "sessions"))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["metric"] == "grad_norm" and {d["device"] for d in data["devices"]} == {"cpu", "gpu0"}
    shown = run_cli("correlate", str(session), "grad_norm")
    assert shown.returncode == 0, shown.stderr
    assert "grad_norm around collapses" in shown.stdout and "gpu0" in shown.stdout
    assert "correlation of grad_norm with rle_smoothed by lag" in shown.stdout


def test_an_unknown_metric_lists_the_metrics_there_are(tmp_path):
    session = make_session(tmp_path)
    result = run_cli("correlate", str(session), "grad_nrom")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "no metric 'grad_nrom'" in result.stderr and "grad_norm, loss" in result.stderr
    with pytest.raises(InputError, match="no custom metrics"):
        correlate(make_session(tmp_path / "other", metrics=False), "grad_norm")


def test_a_missing_session_is_one_line(tmp_path):
    result = run_cli("correlate", "nope", "grad_norm", "--dir", str(tmp_path))
    assert result.returncode == 1 and result.stderr.count("\n") == 1


def test_the_metric_is_not_carried_past_its_last_point(tmp_path):
    """A metric that stopped at 100 s of a 300 s session is unknown after it, not its last value for 200 s."""
    session = make_session(tmp_path)
    events = session / "events.jsonl"
    cut_us = T0_US + 100 * 1_000_000
    kept = [line for line in events.read_text().splitlines()
            if json.loads(line)["kind"] != "metric" or us_from_iso(json.loads(line)["ts"]) < cut_us]
    events.write_text("".join(line + "\n" for line in kept))
    result = correlate(session, "grad_norm")
    assert result["points"] == 200 and result["last"] == iso(cut_us - 500_000 + 1000)
    spanned = sum(1 for k in range(SECONDS * HZ) if T0_US + 1000 <= T0_US + k * 100_000 <= cut_us - 500_000 + 1000)
    for device in result["devices"]:
        by_lag = {lag["lag_s"]: lag["n"] for lag in device["lags"]}
        assert by_lag[0] == by_lag[10] == spanned  # the samples between its first and last point (shifted)
        assert max(by_lag.values()) == spanned


def test_where_the_rle_is_unknown_no_point_is_outside_a_collapse(tmp_path):
    """A CPU without a power reading has no RLE, so no collapse is looked for: its collapses are unknown
    (null, `—`), not 0, and no point is counted outside one; the GPU's first 100 s without RLE likewise."""
    session = make_session(tmp_path / "sessions")
    table = pl.read_parquet(session / "samples.parquet")
    unknown = pl.col("elapsed_s") < 100
    table.with_columns(pl.lit(None, pl.Float64).alias("cpu_rle_smoothed"),
                       pl.when(unknown).then(None).otherwise(pl.col("gpu0_rle_smoothed")).alias("gpu0_rle_smoothed"),
                       pl.when(unknown).then(0).otherwise(pl.col("gpu0_collapse")).cast(pl.Int8).alias("gpu0_collapse"),
                       ).write_parquet(session / "samples.parquet")
    devices = {d["device"]: d for d in correlate(session, "grad_norm")["devices"]}
    cpu, gpu = devices["cpu"], devices["gpu0"]
    assert cpu["collapses"] is None and cpu["inside"]["points"] == cpu["outside"]["points"] == 0
    assert gpu["collapses"] > 0 and gpu["inside"]["points"] + gpu["outside"]["points"] == (SECONDS - 100) * 2
    shown = run_cli("correlate", str(session), "grad_norm")
    assert shown.returncode == 0, shown.stderr
    (cpu_row,) = [line for line in shown.stdout.splitlines() if line.startswith("│ cpu")]
    assert cpu_row.split("│")[2].strip() == "—"


def test_a_session_without_derived_columns_is_derived_first(tmp_path):
    """A session with only raw readings (another tool's, an older rigscope's): correlate derives the RLE
    itself, as analyze would (it said to run analyze, whose output is a file correlate does not read)."""
    session = make_session(tmp_path)
    count = SECONDS * HZ
    busy = [95.0 if (k // 200) % 2 else 40.0 for k in range(count)]  # 20 s busy, 20 s half idle
    pl.DataFrame({
        "ts": [T0_US + k * 100_000 for k in range(count)],
        "elapsed_s": [k / HZ for k in range(count)],
        "cpu_util_pct": [20.0] * count,
        "gpu0_util_pct": busy, "gpu0_temp_c": [60.0] * count,
        "gpu0_power_w": [100.0 + 2 * u for u in busy], "gpu0_power_limit_w": [400.0] * count,
    }).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC"))).write_parquet(session / "samples.parquet")
    result = correlate(session, "grad_norm")
    (gpu,) = [d for d in result["devices"] if d["device"] == "gpu0"]
    assert gpu["collapses"] == 0 and gpu["outside"]["points"] > 0
    assert sum(1 for lag in gpu["lags"] if lag["r"] is not None) == 21
    (session / "samples.parquet").unlink()
    pl.DataFrame({"ts": [T0_US], "elapsed_s": [0.0]}).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC"))) \
        .write_parquet(session / "samples.parquet")
    with pytest.raises(InputError, match="no rle_smoothed columns, nor the samples to derive them"):
        correlate(session, "grad_norm")


@pytest.mark.parametrize("name", ["acc[top1]", "x[/]", "loss\x1b[31m"])
def test_a_metric_name_is_shown_as_sent_and_inert(tmp_path, name):
    """A workload names its metrics: brackets are no rich markup (`[/]` raised a traceback, `[top1]` vanished),
    and an escape is shown escaped, in the table and in the list of a mistyped name's alternatives."""
    session = make_session(tmp_path)
    lines = [json.dumps({"ts": iso(T0_US + k * 500_000 + 1000), "kind": "metric", "name": name, "value": float(k % 7)})
             for k in range(100)]
    with (session / "events.jsonl").open("a") as events:
        events.write("".join(line + "\n" for line in lines))
    shown = run_cli("correlate", str(session), name)
    assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr
    visible = name.replace("\x1b", "\\x1b")
    assert f"{visible} around collapses" in shown.stdout and "\x1b" not in shown.stdout
    assert f"correlation of {visible} with rle_smoothed" in shown.stdout
    wrong = run_cli("correlate", str(session), "nope")
    assert wrong.returncode == 1 and wrong.stderr.count("\n") == 1 and "\x1b" not in wrong.stderr
    assert visible in wrong.stderr


def test_a_foreign_column_name_is_no_markup(tmp_path):
    """A device is named by its samples' columns, which another tool's file may name as it likes."""
    session = make_session(tmp_path)
    table = pl.read_parquet(session / "samples.parquet")
    table.rename({"cpu_rle_smoothed": "x[/]_rle_smoothed"}).write_parquet(session / "samples.parquet")
    shown = run_cli("correlate", str(session), "grad_norm")
    assert shown.returncode == 0 and "│ x[/]" in shown.stdout, shown.stderr


def test_a_session_still_recording_says_so(tmp_path):
    session = make_session(tmp_path)
    meta = json.loads((session / "meta.json").read_text())
    meta.update(status="recording", recorder={"hostname": socket.gethostname(), "pid": os.getpid()})
    (session / "meta.json").write_text(json.dumps(meta))
    assert correlate(session, "grad_norm")["recording"] is True
    shown = run_cli("correlate", str(session), "grad_norm")
    assert shown.returncode == 0 and "points; still recording: so far)" in shown.stdout, shown.stderr


def test_a_session_another_host_records_into_a_shared_folder_is_still_recording(tmp_path):
    """As `ls` says: the other host's recorder cannot be asked, its files changed a moment ago."""
    session = make_session(tmp_path)
    meta = json.loads((session / "meta.json").read_text())
    meta.update(status="recording", recorder={"hostname": "other-node", "pid": 1})
    (session / "meta.json").write_text(json.dumps(meta))
    (session / "events.jsonl").touch()
    assert correlate(session, "grad_norm")["recording"] is True


def test_a_recorder_entry_of_the_wrong_type_is_no_running_recorder(tmp_path):
    session = make_session(tmp_path)
    meta = json.loads((session / "meta.json").read_text())
    (session / "meta.json").write_text(json.dumps({**meta, "status": "recording", "recorder": ["not", "a", "dict"]}))
    assert correlate(session, "grad_norm")["recording"] is False
