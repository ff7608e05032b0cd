"""Report sections about the measured signals: per-device statistics, workload states, throttling,
collapse events, spans and alerts.  Each takes `SessionData` and returns markdown or None."""

from __future__ import annotations

from typing import Any

import polars as pl

from collectors.event_kinds import EventKind
from collectors.span_stats import SpanStatistics
from recordings.report.aggregates import collapse_rows, device_energy
from recordings.report.data import SessionData
from recordings.report.markdown import NONE, duration, escape, num, offset, pct, section, table
from recordings.report.markdown import energy as energy_text

THROTTLE_CAUSES = (("power_cap", "SW power cap"), ("thermal", "thermal slowdown"), ("power_brake", "HW power brake"),
                   ("other", "other"))
COLLAPSE_ROWS = 200


def devices(data: SessionData) -> str | None:
    if not data.devices:
        return None
    energy = device_energy(data, list(data.devices))
    methods = {prefix: energy_of(prefix, d, energy[prefix]["energy_j"]) for prefix, d in data.devices.items()}
    # SM activity (GPM) only where a device measured it: util says a kernel ran, SM active how much of the chip.
    gpm = any(d.get("mean_sm_active_pct") is not None for d in data.devices.values())
    rows = []
    for prefix, d in data.devices.items():
        joules, method, uncertain = methods[prefix]
        rows.append((escape(prefix), num(d.get("mean_util_pct"), 1, " %"), num(d.get("max_temp_c"), 1, " °C"),
                     num(energy[prefix]["mean_power_w"], 1, " W"), num(d.get("max_power_w"), 1, " W"),
                     energy_text(joules) + (" (uncertain)" if uncertain else ""),
                     f"{num(d.get('rle_min'), 3)} – {num(d.get('rle_max'), 3)}",
                     num(d.get("collapse_events"), 0), duration(d.get("collapse_seconds")),
                     *((num(d.get("mean_sm_active_pct"), 1, " %"),) if gpm else ()), method))
    headers = ("device", "mean util", "max temp", "mean power", "max power", "energy", "RLE range", "collapses",
               "collapse time", *(("mean SM active",) if gpm else ()), "energy method")
    note = ("Energy by its method: `counter` (NVML's energy counter, first to last reading), `integrated_power` "
            "(power × time over the samples with a power reading), `rapl` (the CPU package's RAPL power × time), "
            "`none`; uncertain: the session is shorter than five updates of the counter. RLE is `rle_smoothed`.")
    if gpm:
        note += " SM active is NVML GPM's share of busy SMs (— where the GPU has no GPM)."
    checks = [self_check_line(prefix, d["energy"]["self_check"]) for prefix, d in data.devices.items()
              if isinstance(d.get("energy"), dict) and isinstance(d["energy"].get("self_check"), dict)]
    if checks:
        note += "\n\nEnergy self-check (counter vs integrated power between the counter's first and last update):\n\n" + \
            "\n".join(checks)
    return section("Summary statistics per device", table(headers, rows, right=range(1, len(headers) - 1)), note)


def energy_of(prefix: str, device: dict[str, Any], integrated_j: float | None) -> tuple[float | None, str, bool]:
    """A device's energy, its method and whether it is uncertain: the session summary's (counter first),
    else (a session recorded before methods were kept) power × time over the samples."""
    entry = device.get("energy")
    if isinstance(entry, dict) and isinstance(entry.get("method"), str):
        joules = entry.get("energy_j")
        measured = joules if isinstance(joules, (int, float)) else None
        return measured, escape(entry["method"]), entry.get("uncertain") is True
    if integrated_j is None:
        return None, "none", False
    return integrated_j, "rapl" if prefix == "cpu" else "integrated_power", False


def self_check_line(prefix: str, check: dict[str, Any]) -> str:
    return (f"- {escape(prefix)}: counter {energy_text(check.get('counter_j'))}, integrated power "
            f"{energy_text(check.get('integrated_j'))} over {duration(check.get('window_s'))}: "
            f"{num(check.get('difference_pct'), 2, ' %')} difference")


def workload(data: SessionData) -> str | None:
    seconds = data.workload_seconds
    if not seconds:
        return None
    total = sum(seconds.values()) or 1.0
    rows = [(escape(str(state)), duration(value), pct(value / total))
            for state, value in sorted(seconds.items(), key=lambda item: -item[1])]
    return section("Workload time per state", table(("state", "time", "share"), rows, right=(1, 2)))


def throttle(data: SessionData) -> str | None:
    accounts = {p: d["throttle"] for p, d in data.devices.items() if isinstance(d.get("throttle"), dict)}
    if not accounts:
        return None
    rows = []
    for prefix, account in accounts.items():
        cells = [f"{duration(account.get(f'{key}_s'))} ({pct(account.get(f'{key}_fraction'))})"
                 for key in ("throttled", *(cause for cause, _ in THROTTLE_CAUSES))]
        rows.append((escape(prefix), *cells))
    headers = ("device", "throttled (any)", *(label for _, label in THROTTLE_CAUSES))
    note = "From the NVML clocks-event bitmask; a sample with several causes counts toward each."
    return section("Throttle time per cause", table(headers, rows, right=range(1, 6)), note)


def collapses(data: SessionData) -> str:
    events = collapse_rows(data)
    if not events and not data.devices:  # a log of requests alone: nothing could have collapsed in it
        return section("Collapse events", "Not measured: the session has no device readings.")
    if not events and all(d.get("collapse_events") is None for d in data.devices.values()):
        return section("Collapse events", "Not measured: the source lacks what the RLE needs "
                                          "(utilization, power, temperature).")
    if not events:
        return section("Collapse events", "No collapse event.")
    rows = []
    for event in events[:COLLAPSE_ROWS]:
        end = event["end"]
        rows.append((f"{offset(event['start'])} {data.clock_of(event['start'])}".strip(),
                     f"{offset(end)} {data.clock_of(end)}".strip() if end is not None else "still active",
                     duration(event["duration_s"]), escape(str(event["device"])), num(event.get("min_rle"), 3),
                     num(event["max_temp_c"], 1, " °C"), ", ".join(event["evidence"]) or NONE))
    total = sum(e["duration_s"] or 0 for e in events)
    lines = [f"{len(events)} events, {duration(total)} in all. Times are from the session start (and UTC)."]
    if len(events) > COLLAPSE_ROWS:
        lines.append(f"The first {COLLAPSE_ROWS} are listed; all are in events.jsonl.")
    headers = ("start", "end", "duration", "device", "min RLE", "max temp", "evidence")
    return section("Collapse events", " ".join(lines), table(headers, rows, right=(2, 4, 5)))


def _span_overview(stats: dict[str, Any]) -> str:
    pairs = [("spans", num(stats.get("total"), 0)), ("successful", num(stats.get("successful"), 0)),
             ("failed", num(stats.get("failed"), 0)), ("success rate", pct(stats.get("success_rate"))),
             ("mean duration", num(stats.get("avg_duration_s"), 3, " s")),
             ("p50 / p95 / p99 duration", " / ".join(num(stats.get(f"p{q}_duration_s"), 3, " s") for q in (50, 95, 99))),
             ("mean RTF", num(stats.get("avg_rtf"), 3)), ("mean tokens/s", num(stats.get("avg_tokens_per_sec"), 1)),
             ("mean peak memory", num(stats.get("avg_peak_memory_mb"), 0, " MB")),
             ("energy", num(stats.get("total_energy_j"), 1, " J"))]
    if stats.get("open") or stats.get("abandoned"):
        pairs.append(("open / abandoned", f"{num(stats.get('open'), 0)} / {num(stats.get('abandoned'), 0)}"))
    return table(("", "value"), pairs)


def _span_names(spans: pl.DataFrame) -> str | None:
    """Per span name, by the statistics the live dashboard and meta.json use (collectors.span_stats)."""
    if "name" not in spans.columns or "total_duration_s" not in spans.columns:
        return None
    stats = SpanStatistics(recent=0)
    wanted = [c for c in ("name", "parent_id", "success", "total_duration_s", "tokens_per_second", "energy_j")
              if c in spans.columns]
    for row in spans.select(wanted).iter_rows(named=True):
        stats.add(row)
    known = "success" in spans.columns  # a table without the column says nothing of success
    rows = [(escape(str(r["name"])), num(r["total"], 0), pct(r["success_rate"] if known else None),
             num(r["avg_duration_s"], 3, " s"),
             num(r["p50_duration_s"], 3, " s"), num(r["p95_duration_s"], 3, " s"), num(r["avg_tokens_per_sec"], 1),
             num(r["avg_energy_j"], 2, " J")) for r in stats.per_name()]
    return table(("span", "count", "success", "mean", "p50", "p95", "tokens/s", "energy/span"), rows, right=range(1, 8))


def spans(data: SessionData) -> str | None:
    stats = data.summary.get("spans") or {}
    table_ = data.spans
    if not stats.get("total") and table_ is None:
        return None
    return section("Span statistics", _span_overview(stats) if stats else None,
                   _span_names(table_) if table_ is not None else None)


def alerts(data: SessionData) -> str | None:
    """Alert onsets (events.jsonl `alert`) per device and kind, with the first and last time."""
    events = data.events_of(EventKind.ALERT)
    if not events:
        return None
    grouped: dict[tuple[str, str], list[str]] = {}
    for event in events:
        grouped.setdefault((str(event.get("device")), str(event.get("alert"))), []).append(event["ts"])
    rows = []
    for (device, alert), times in sorted(grouped.items()):
        first, last = min(times), max(times)
        rows.append((escape(device), escape(alert), num(len(times), 0), f"{offset(data.elapsed_of(first))} {first[11:19]}",
                     f"{offset(data.elapsed_of(last))} {last[11:19]}"))
    note = "Each row counts the times the alert began (it stays on while its condition holds)."
    return section("Alerts", table(("device", "alert", "onsets", "first", "last"), rows, right=(2,)), note)
