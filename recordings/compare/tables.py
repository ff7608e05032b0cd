"""A comparison as tables: text cells for the terminal and markdown, raw numbers for CSV; and the files of `--out`.

Tables: hardware summary, TTS figures (spans), per device, time per workload state.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from recordings.compare.collect import CAUSES
from recordings.report.markdown import NONE, duration, energy, escape, num, pct, table

Table = tuple[str, list[str], list[list[str]]]  # title, headers, rows of text


def _mean_std(stats: dict[str, Any], digits: int, unit: str = "") -> str:
    if stats["mean"] is None:
        return NONE
    spread = f" ± {num(stats['std'], digits)}" if stats["std"] is not None else ""
    return f"{num(stats['mean'], digits)}{spread}{unit} (n={stats['n']})"


def text_tables(groups: list[dict[str, Any]], by: str) -> list[Table]:
    hardware = [[g["group"], str(len(g["sessions"])), num(g["hours"], 2), g["hardware"]["hosts"], g["hardware"]["cpu"],
                 g["hardware"]["cpu_cores"], g["hardware"]["memory_gb"], g["hardware"]["gpus"]] for g in groups]
    tts = [[g["group"], num(g["spans"], 0), _mean_std(g["peak_memory_mb"], 0, " MB"), _mean_std(g["rtf"], 3),
            _mean_std(g["duration_s"], 3, " s"), pct(g["success_rate"]),
            num(g["energy_per_request_j"]["total"], 2, " J"), num(g["energy_per_token_j"], 3, " J")]
           for g in groups if g["spans"]]
    devices = []
    for g in groups:
        for d in g["devices"]:
            throttle = d["throttle_s"] or {}
            devices.append([g["group"], d["device"], num(d["max_temp_c"], 1, " °C"), num(d["mean_power_w"], 1, " W"),
                            num(d["collapse_events"], 0), num(d["collapse_rate_per_h"], 2),
                            *(duration(throttle.get(cause)) if d["throttle_s"] else NONE for cause in CAUSES),
                            num(d["mean_sm_active_pct"], 1, " %"), energy(d["measured_energy_j"]),
                            d["energy_method"]])
    workload = [[g["group"], state, duration(seconds), pct(seconds / (sum(g["workload_s"].values()) or 1.0))]
                for g in groups for state, seconds in sorted(g["workload_s"].items(), key=lambda item: -item[1])]
    out: list[Table] = [
        (f"Hardware summary (by {by})", ["group", "sessions", "hours", "hosts", "CPU", "cores", "memory GiB", "GPUs"],
         hardware),
        ("Per device", ["group", "device", "max temp", "mean power", "collapses", "collapses/h",
                        *(f"{c.replace('_', ' ')} time" for c in CAUSES), "mean SM active", "energy",
                        "energy method"], devices),
        ("Time per workload state", ["group", "state", "time", "share"], workload),
    ]
    if tts:
        out.insert(1, ("Requests (spans)", ["group", "spans", "peak memory", "RTF", "duration", "success",
                                            "energy/request", "energy/token"], tts))
    return out


def markdown(groups: list[dict[str, Any]], by: str) -> str:
    parts = [f"# rigscope comparison ({sum(len(g['sessions']) for g in groups)} sessions, by {by})"]
    for title, headers, rows in text_tables(groups, by):
        cells = ([escape(cell) for cell in row] for row in rows)  # host, CPU and GPU names come from the sessions
        parts.append(f"## {title}\n\n" + table(headers, cells, right=range(1, len(headers))))
    parts.append("## Sessions\n\n" + "\n".join(f"- {escape(g['group'])}: {escape(', '.join(g['sessions']))}"
                                               for g in groups))
    return "\n\n".join(parts) + "\n"


def _group_row(g: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"group": g["group"], "sessions": len(g["sessions"]), "hours": g["hours"],
                           **{f"hw_{k}": v for k, v in g["hardware"].items()}, "spans": g["spans"],
                           "success_rate": g["success_rate"], "energy_per_token_j": g["energy_per_token_j"]}
    for measure in ("peak_memory_mb", "rtf", "duration_s"):
        row.update({f"{measure}_{k}": v for k, v in g[measure].items()})
    row.update({f"energy_per_request_{k}_j": v for k, v in g["energy_per_request_j"].items()})
    return row


def _device_rows(g: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for d in g["devices"]:
        row = {"group": g["group"], **{k: v for k, v in d.items() if k != "throttle_s"}}
        row.update({f"{cause}_s": (d["throttle_s"] or {}).get(cause) for cause in CAUSES})
        rows.append(row)
    return rows


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["group"])
        writer.writeheader()
        writer.writerows(rows)


def write_outputs(groups: list[dict[str, Any]], by: str, directory: Path) -> list[Path]:
    """comparison.md, comparison.json, groups.csv, devices.csv and workload.csv in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "comparison.md").write_text(markdown(groups, by), encoding="utf-8")
    (directory / "comparison.json").write_text(json.dumps({"by": by, "groups": groups}, indent=1) + "\n",
                                               encoding="utf-8")
    _write_csv(directory / "groups.csv", [_group_row(g) for g in groups])
    _write_csv(directory / "devices.csv", [row for g in groups for row in _device_rows(g)])
    _write_csv(directory / "workload.csv", [{"group": g["group"], "state": state, "seconds": seconds}
                                            for g in groups for state, seconds in g["workload_s"].items()])
    return [directory / name for name in ("comparison.md", "comparison.json", "groups.csv", "devices.csv",
                                          "workload.csv")]
