"""docs/PERFORMANCE.md from bench/PERFORMANCE.template.md and the benchmarks' figures.

`bench/figures.json` (tracked) holds, per benchmark, the figures the page quotes from its
latest result: date, machine and rows (measure, figure, goal, passed).  A run refreshes the
entries whose `bench/results/<name>.json` (not tracked) is newer, so running one benchmark
updates its rows and keeps the others.  In the template, `{{machine}}` becomes the machines
and versions of those results and `{{summary}}` the table of every figure with its goal and
pass/fail; the rest of the template is the hand-written explanation, copied as it is.  A
benchmark with no figures yet still gets a row, "not run", so a missing figure shows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from figures import Extractor, Figure

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "PERFORMANCE.template.md"
STORE = HERE / "figures.json"
RESULTS = HERE / "results"
PAGE = HERE.parent / "docs" / "PERFORMANCE.md"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def machine_of(result: dict[str, Any]) -> str:
    m, v = result.get("machine", {}), result.get("versions", {})
    memory = m.get("memory_bytes")
    parts = [m.get("cpu_model") or "unknown CPU", f"{m.get('cores_logical')} cores",
             f"{memory / 2**30:.0f} GiB" if memory else "memory unknown", m.get("os", "")]
    return ", ".join(parts) + "; " + ", ".join(f"{k} {val}" for k, val in v.items() if val)


def entry_of(result: dict[str, Any], extract: Extractor) -> dict[str, Any]:
    try:
        found = extract(result)
    except (KeyError, TypeError, IndexError, ValueError, ZeroDivisionError) as error:
        found = [Figure(f"result unreadable ({type(error).__name__}: {error})", "—")]
    notes = ["quick run"] if result.get("quick") else []
    load, cores = (result.get("load_avg_at_end") or [0.0])[0], result.get("machine", {}).get("cores_logical") or 1
    if load > 1.5 * cores:  # other work on the machine: the figure says more about it than about rigscope
        notes.append(f"machine overloaded, load {load:.1f} on {cores} cores")
    if notes:
        found = [Figure(f"{f.measure} ({'; '.join(notes)})", f.figure, f.goal, f.passed) for f in found]
    return {"date": str(result.get("date", "")), "machine": machine_of(result),
            "rows": [[f.measure, f.figure, f.goal, f.passed] for f in found]}


def refresh(extractors: Mapping[str, Extractor]) -> dict[str, Any]:
    """The stored figures, with every benchmark whose result file is newer taken from it; saved."""
    store = _read_json(STORE) or {}
    for name, extract in extractors.items():
        result = _read_json(RESULTS / f"{name}.json")
        if isinstance(result, dict) and str(result.get("date", "")) > store.get(name, {}).get("date", ""):
            store[name] = entry_of(result, extract)
    STORE.write_text(json.dumps(store, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return store


def verdict(passed: bool | None) -> str:
    return "" if passed is None else ("pass" if passed else "**FAIL**")


def summary(store: Mapping[str, Any], names: list[str]) -> str:
    lines = ["| benchmark | measure | figure | goal | | date |", "|---|---|---|---|---|---|"]
    for name in names + [n for n in store if n not in names]:
        entry = store.get(name) or {"date": "", "rows": [["not run yet", "—", "", None]]}
        for measure, figure, goal, passed in entry["rows"]:
            lines.append(f"| {name} | {measure} | {figure} | {goal} | {verdict(passed)} | {entry['date'][:10]} |")
    return "\n".join(lines)


def machines(store: Mapping[str, Any]) -> str:
    seen: dict[str, list[str]] = {}
    for name, entry in store.items():
        seen.setdefault(entry.get("machine") or "machine not recorded", []).append(name)
    return "\n".join(f"- {key} ({', '.join(names)})" for key, names in seen.items()) or "No figures yet."


def write(extractors: Mapping[str, Extractor]) -> Path:
    store = refresh(extractors)
    text = TEMPLATE.read_text(encoding="utf-8")
    PAGE.write_text(text.replace("{{machine}}", machines(store)).replace("{{summary}}", summary(store, list(extractors))),
                    encoding="utf-8")
    return PAGE
