"""Report sections about the session itself: configuration, hardware, checks, the notes timeline, the files.

Each section takes the loaded `SessionData` and returns markdown, or None when it has nothing to say.
"""

from __future__ import annotations

import shlex
from typing import Any

from collectors.event_kinds import EventKind
from recordings.report.data import SessionData
from recordings.report.markdown import NONE, code, duration, escape, fields, num, offset, section, size, table

TIMELINE_ROWS = 200
MAX_STEPS = 5  # clock steps listed in the configuration; the rest are counted
REPORT_FILE = "report.md"


def configuration(data: SessionData) -> str:
    meta = data.meta
    monitoring = meta.get("monitoring") or {}
    recorder = meta.get("recorder") or {}
    samples = data.total_samples
    seconds = data.summary.get("duration_s")
    # n samples span n - 1 intervals (as `ls` counts): 2 samples 0.1 s apart are 10 Hz, not 20
    achieved = (samples - 1) / seconds if isinstance(samples, (int, float)) and isinstance(seconds, (int, float)) \
        and seconds > 0 and samples > 1 else None
    argv = recorder.get("argv")
    rows: list[tuple[str, Any]] = [
        ("session", escape(str(meta.get("session_id") or data.path.name))),
        ("status", data.status if data.unfinished_note is None else f"{data.status} ({data.unfinished_note})"),
        ("model name", escape(meta.get("model_name") or NONE)),
        ("training mode", escape(meta.get("training_mode") or NONE)),
        ("notes", escape(meta.get("notes") or NONE)),
        ("start (UTC)", escape(str(meta.get("session_start") or NONE))),
        ("end (UTC)", escape(str(data.session_end or NONE))),
        ("duration", duration(seconds)),
        ("samples", num(samples, 0)),
        ("sample rate", f"{num(monitoring.get('sample_hz'), 2)} Hz requested, {_rate(achieved)} Hz achieved"),
        ("source", escape(str(monitoring.get("source") or NONE))),
        ("collectors", escape(", ".join(map(str, monitoring.get("collectors") or []))) or NONE),
        ("flags", code(shlex.join(map(str, argv))) if argv else NONE),
        ("rigscope version", escape(str(recorder.get("version") or NONE))),
    ]
    if meta.get("group_id"):
        rows.insert(2, ("group", escape(str(meta["group_id"]))))
    steps = clock_steps(data)
    if steps:
        rows.append(("wall clock", steps))
    warnings = [f"- {escape(str(w))}" for w in meta.get("warnings") or []]
    return section("Configuration", fields(rows), "Collector notices:\n\n" + "\n".join(warnings) if warnings else None)


def _rate(hz: float | None) -> str:
    """Two decimals, and two significant digits below 1 Hz: a log of one line a minute is 0.017, not 0.02."""
    return num(hz, 2) if hz is None or hz >= 1 else f"{hz:.2g}"


def clock_steps(data: SessionData) -> str | None:
    """The steps of the wall clock while recording (`clock_step` events): size and when, on the monotonic clock."""
    steps = [e for e in data.events_of(EventKind.CLOCK_STEP) if isinstance(e.get("step_s"), (int, float))]
    if not steps:
        return None
    shown = [f"{e['step_s']:+.1f} s at {offset(e.get('elapsed_s'))}" for e in steps[:MAX_STEPS]]
    more = f" and {len(steps) - MAX_STEPS} more" if len(steps) > MAX_STEPS else ""
    times = f"{len(steps)} time{'s' if len(steps) > 1 else ''}"
    return f"stepped {times}: {', '.join(shown)}{more} (times of day after a step are shifted by it)"


def _gib(count: Any) -> str:
    return num(count / 2**30, 1, " GiB") if isinstance(count, (int, float)) and count else NONE


def hardware(data: SessionData) -> str:
    host = data.meta.get("host") or {}
    rows = [
        ("host", escape(str(host.get("hostname") or NONE))),
        ("hardware tier", escape(str(host.get("hardware_tier") or NONE))),
        ("device type", escape(str(host.get("device_type") or NONE))),
        ("OS", escape(str(host.get("os") or NONE))),
        ("CPU", escape(str(host.get("cpu_model") or NONE))),
        ("CPU cores",
         f"{num(host.get('cpu_count_physical'), 0)} physical, {num(host.get('cpu_count_logical'), 0)} logical"),
        ("memory", _gib(host.get("memory_total_bytes"))),
    ]
    gpus = data.meta.get("gpus") or []
    gpu_table = table(("GPU", "name", "memory", "power limit", "temperature limit", "driver"), (
        (str(g.get("index", i)), escape(str(g.get("name") or NONE)), _gib(g.get("memory_total_bytes")),
         num(g.get("power_limit_w"), 0, " W"), num(g.get("temp_limit_c"), 0, " °C"), escape(str(g.get("driver_version") or NONE)))
        for i, g in enumerate(gpus)), right=(2, 3, 4)) if gpus else "No GPU in this session."
    return section("Hardware", fields(rows), gpu_table)


def checks(data: SessionData) -> str | None:
    """The pass/fail table of the checks a controlled run evaluated (meta.json `checks`)."""
    results = data.meta.get("checks")
    if not results:
        return None
    passed = sum(1 for check in results if check.get("passed"))
    rows = ((code(str(c.get("expression"))), _check_value(c), "pass" if c.get("passed") else "**FAIL**")
            for c in results)
    verdict = f"{passed} of {len(results)} checks passed."
    return section("Checks", verdict, table(("check", "value", "result"), rows, right=(1,)))


def _check_value(check: dict[str, Any]) -> str:
    """The checked value; for a check over several names, each `name = value`."""
    def shown(value: Any) -> str:
        return f"{value:.6g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else NONE

    values = check.get("values")
    if check.get("value") is None and isinstance(values, dict) and values:
        return ", ".join(f"{escape(str(name))} = {shown(value)}" for name, value in values.items())
    return shown(check.get("value"))


def timeline(data: SessionData) -> str | None:
    """Notes and tags in time order."""
    entries = sorted(data.events_of(EventKind.NOTE, EventKind.TAG), key=lambda e: e["ts"])
    if not entries:
        return None
    rows = []
    for event in entries[:TIMELINE_ROWS]:
        elapsed = data.elapsed_of(event["ts"])
        if event["kind"] == EventKind.NOTE:
            tags = event.get("tags")
            labels = f" [{escape(', '.join(map(str, tags)))}]" if isinstance(tags, list) and tags else ""
            text = escape(str(event.get("text", ""))) + labels
        else:
            text = f"state → {escape(str(event.get('state')))}"
        rows.append((offset(elapsed), event["ts"][11:19] or NONE, event["kind"], text,
                     escape(str(event.get("source") or NONE))))
    more = f"… and {len(entries) - TIMELINE_ROWS} more in events.jsonl." if len(entries) > TIMELINE_ROWS else None
    return section("Timeline of notes and tags", table(("at", "UTC", "kind", "text", "source"), rows), more)


def files(data: SessionData) -> str:
    """Every file of the session with its size (report.md itself left out: it is being written)."""
    paths = sorted(p for p in data.path.rglob("*") if p.is_file() and p.name != REPORT_FILE
                   and not p.name.startswith("."))
    sizes = [(p.relative_to(data.path).as_posix(), p.stat().st_size) for p in paths]
    rows = [(code(name), size(count)) for name, count in sizes]
    rows.append(("**total**", f"**{size(sum(count for _, count in sizes))}**"))
    return section("Data files", table(("file", "size"), rows, right=(1,)))
