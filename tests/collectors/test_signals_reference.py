"""The streaming pipeline against a slow, literal reading of SIGNALS.md on random traces.

The reference recomputes every window from scratch (no running sums), so it checks
the window bookkeeping, null handling and the state machines on traces with
jitter, gaps, nulls, throttling and tags that the shared fixtures do not cover.
"""

from __future__ import annotations

import math
import random
from statistics import fmean, pstdev
from typing import Any

import pytest

from collectors.signals import SignalPipeline

T0_US = 1_773_480_413_000_000
ALERTS = ("TEMP_LIMIT", "OVER_POWER", "THROTTLE_POWER", "THROTTLE_THERMAL", "MEM_PRESSURE")


def ols_slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    mx = fmean(x for x, _ in points)
    my = fmean(y for _, y in points)
    sxx = math.fsum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return 0.0
    return math.fsum((x - mx) * (y - my) for x, y in points) / sxx


def reference_device(frames: list[dict[str, Any]], p: str) -> tuple[list[dict[str, Any]], list[tuple[float, float]]]:
    t = [f["elapsed_s"] for f in frames]
    rows: list[dict[str, Any]] = []
    events: list[tuple[float, float]] = []
    peak = 0.0
    run_start = None
    active = False
    start = false_since = 0.0
    false_open = False
    for k, f in enumerate(frames):
        window = [j for j in range(k + 1) if t[k] - 5 < t[j]]
        util = f.get(f"{p}_util_pct")
        u = None if util is None else min(max(util / 100, 0.0), 1.0)
        us = [min(max(frames[j][f"{p}_util_pct"] / 100, 0.0), 1.0) for j in window if frames[j].get(f"{p}_util_pct") is not None]
        sigma = pstdev(us) if len(us) > 1 else 0.0
        stability = 1 / (1 + sigma)
        power, limit_w = f.get(f"{p}_power_w"), f.get(f"{p}_power_limit_w")
        a_load = power / limit_w if power is not None and limit_w is not None and limit_w > 0 else None
        temp = f.get(f"{p}_temp_c")
        limit = f.get(f"{p}_temp_limit_c")
        limit = (80.0 if p == "cpu" else 83.0) if limit is None else limit
        r = ols_slope([(t[j], frames[j][f"{p}_temp_c"]) for j in window if frames[j].get(f"{p}_temp_c") is not None])
        if temp is None:
            sustain = 600.0
        elif temp >= limit:
            sustain = 1.0
        elif r <= 0.001:
            sustain = 600.0
        else:
            sustain = min(max((limit - temp) / r, 1.0), 600.0)
        e_th = stability / (1 + 1 / sustain)
        if a_load is None or u is None:
            rle = e_pw = None
        else:
            a = max(a_load, 0.05)
            rle = u * stability / (a * (1 + 1 / sustain))
            e_pw = u / a
        row = {"a_load": a_load, "t_sustain_s": sustain, "rle_raw": rle, "e_th": e_th, "e_pw": e_pw}
        rows.append(row)
        raws = [rows[j]["rle_raw"] for j in window if rows[j]["rle_raw"] is not None]
        rle_s = fmean(raws) if raws else None
        row["rle_smoothed"] = rle_s
        throttle = f.get(f"{p}_throttle_reasons") or 0
        alerts = [
            temp is not None and temp >= limit,
            a_load is not None and a_load > 1.10,
            bool(throttle & 0x84),
            bool(throttle & 0x68),
            p == "cpu" and f.get("mem_util_pct") is not None and f["mem_util_pct"] >= 95,
        ]
        row["alerts"] = "|".join(name for name, on in zip(ALERTS, alerts) if on)
        if t[k] - t[0] < 60:
            row["rolling_peak"], row["collapse"] = 0.0, 0
            continue
        previous = 0.0 if t[k - 1] - t[0] < 60 else peak
        peak = previous * 0.998 ** (t[k] - t[k - 1])
        if rle_s is not None:
            peak = max(rle_s, peak)
        row["rolling_peak"] = peak
        loaded = (u is not None and u > 0.6) or (a_load is not None and a_load > 0.75)
        candidate = loaded and rle_s is not None and rle_s < 0.65 * peak
        evidence = (sustain < 60 or (temp is not None and temp >= limit - 5)
                    or (a_load is not None and a_load > 0.95) or bool(throttle & 0xEC))  # fmt: skip
        if candidate:
            run_start = t[k] if run_start is None else run_start
            false_open = False
            if not active and t[k] - run_start >= 7 and evidence:
                active, start = True, run_start
        else:
            run_start = None
            if active:
                if not false_open:
                    false_open, false_since = True, t[k]
                if t[k] - false_since >= 3:
                    active, false_open = False, False
                    events.append((start, false_since))
        row["collapse"] = 1 if active else 0
    if active:
        events.append((start, t[-1]))
    return rows, events


def reference_workload(frames: list[dict[str, Any]], gpus: list[int], tags: list[tuple[int, str]]) -> list[tuple[str, str]]:
    t = [f["elapsed_s"] for f in frames]
    out: list[tuple[str, str]] = []
    raw_classes = []
    for k, f in enumerate(frames):
        window = [j for j in range(k + 1) if t[k] - 5 < t[j]]
        g = fmean(max([0.0, *(frames[j].get(f"gpu{i}_util_pct") or 0.0 for i in gpus)]) for j in window)
        c = fmean(frames[j].get("cpu_util_pct") or 0.0 for j in window)
        w = fmean(frames[j].get("disk_write_bps") or 0.0 for j in window)
        raw = ("compute" if g >= 70 or c >= 80 else "io" if w >= 50e6
               else "data_prep" if g >= 30 or c >= 50 else "idle")  # fmt: skip
        raw_classes.append(raw)
        applying = [state for ts, state in sorted(tags, key=lambda tag: tag[0]) if ts <= f["ts"]]
        tag = applying[-1] if applying else "auto"
        if tag != "auto":
            out.append((tag, "tag"))
            continue
        if not out or out[-1][1] == "tag":
            out.append((raw, "heuristic"))
            continue
        state = out[-1][0]
        stretch = k
        while stretch > 0 and raw_classes[stretch - 1] == raw:
            stretch -= 1
        if raw != state and t[k] - t[stretch] >= 3:
            state = raw
        out.append((state, "heuristic"))
    return out


def random_trace(seed: int) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    rng = random.Random(seed)
    frames = []
    t = 0.0
    level, load, heat = 90.0, 0.5, 0.0
    temp = 55.0
    while t < 300:
        if rng.random() < 0.015:
            level, load, heat = rng.choice([(95.0, 0.45, 0.0), (70.0, 0.98, 0.3), (5.0, 0.1, -0.2), (40.0, 0.7, 0.1)])
        temp = min(max(temp + heat * rng.uniform(0, 0.5) + rng.uniform(-0.1, 0.1), 35.0), 92.0)
        null = lambda value, chance=0.05: None if rng.random() < chance else value  # noqa: E731
        frames.append({
            "ts": T0_US + round(t * 1e6), "elapsed_s": t,
            "cpu_util_pct": null(rng.uniform(0, 100)), "cpu_temp_c": null(60 + rng.uniform(-3, 3), 0.3),
            "cpu_power_w": null(rng.uniform(5, 70)), "cpu_power_limit_w": 65.0, "cpu_temp_limit_c": None,
            "mem_util_pct": null(rng.choice([50.0, 96.0])), "disk_write_bps": null(rng.choice([0.0, 6e7])),
            "gpu0_util_pct": null(min(100.0, level + rng.uniform(-5, 5))), "gpu0_temp_c": null(temp, 0.1),
            "gpu0_power_w": null(load * 250 * rng.uniform(0.95, 1.05)), "gpu0_power_limit_w": 250.0,
            "gpu0_temp_limit_c": rng.choice([None, 83.0]),
            "gpu0_throttle_reasons": null(rng.choice([0, 0, 0, 0x1, 0x4, 0x20, 0x40, 0x80, 0x100])),
            "gpu1_util_pct": null(rng.uniform(0, 100)), "gpu1_temp_c": None, "gpu1_power_w": None,
            "gpu1_power_limit_w": None, "gpu1_temp_limit_c": None, "gpu1_throttle_reasons": None,
        })  # fmt: skip
        t += rng.choice([0.1, 0.25, 1.0]) * rng.uniform(0.7, 1.3) + (rng.random() < 0.01) * rng.uniform(2, 10)
    tags = [(T0_US + rng.randrange(0, 200_000_000), rng.choice(["eval", "auto", "train"])) for _ in range(rng.randrange(4))]
    return frames, tags


@pytest.mark.parametrize("seed", range(10))
def test_pipeline_matches_literal_reference(seed: int) -> None:
    frames, tags = random_trace(seed)
    pipeline = SignalPipeline([0, 1])
    for ts_us, state in tags:
        pipeline.add_tag(ts_us, state)
    for item in frames:
        pipeline.process(item)
    pipeline.finish()
    for p in ("cpu", "gpu0", "gpu1"):
        rows, events = reference_device(frames, p)
        for k, (item, row) in enumerate(zip(frames, rows)):
            for key, want in row.items():
                got = item[f"{p}_{key}"]
                if want is None or isinstance(want, str):
                    assert got == want, (p, k, key)
                else:
                    assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (p, k, key)
        got_events = [(e["start"], e["end"]) for e in pipeline.collapse_events if e["device"] == p]
        assert got_events == events, p
    states = reference_workload(frames, [0, 1], tags)
    assert [(f["workload_state"], f["workload_source"]) for f in frames] == states
