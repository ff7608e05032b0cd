"""The reproducibility report of a run group as markdown or as LaTeX tables (from `reproducibility()`'s data)."""

from __future__ import annotations

from typing import Any

from recordings.inert import inert
from recordings.report.markdown import code, escape


def _num(value: float | None, unit: str = "", percent: bool = False) -> str:
    if value is None:
        return "—"
    if percent:
        return f"{100 * value:.1f}%"
    text = f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3e}"
    return f"{text} {unit}".rstrip()


def _verdict(figure: dict[str, Any]) -> str:
    return {True: "yes", False: "NO", None: "—"}[figure["reproducible"]]


def _rows(report: dict[str, Any]) -> list[tuple[str, ...]]:
    return [(f["name"], str(sum(v is not None for v in f["values"])), _num(f["mean"], f["unit"]),
             _num(f["std"], f["unit"]), _num(f["cv"], percent=True), _num(f["delta_mean"], f["unit"]), _verdict(f))
            for f in report["figures"]]


HEADER = ("figure", "n", "mean", "std", "CV", "run − baseline", "reproducible")


def markdown(report: dict[str, Any]) -> str:
    limit = f"{100 * report['cv_limit']:.0f}%"
    lines = [f"# Reproducibility of group {escape(str(report['group_id']))}", ""]
    if report.get("command_line"):
        lines += [f"Command: {code(str(report['command_line']))}", ""]
    lines.append(f"{len(report['sessions'])} sessions: "
                 + escape(", ".join(f"{s['id']} (exit {s['exit_code']})" for s in report["sessions"])))
    if report["left_out"]:
        lines.append(f"Left out: {escape(', '.join(report['left_out']))}")
    lines += ["", "## Hardware", ""]
    for config in report["hardware"]:  # names from each machine, as it reported them
        gpus = ", ".join(str(name or "?") for name in config["gpus"]) or "no GPU"
        lines.append(escape(f"- {config['hostname']}: {config['cpu_model'] or 'CPU ?'} ({config['cpu_count']} "
                            f"threads), {gpus}; {config['source']} source at {config['sample_hz']} Hz; "
                            f"{config['sessions']} session(s)"))
    lines += ["", "## Figures", "", f"Mean over the repeats; CV = std / |mean|; over {limit}: not reproducible.", ""]
    lines.append("| " + " | ".join(HEADER) + " |")
    lines.append("|" + "|".join("---" for _ in HEADER) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in _rows(report)]
    methods = report.get("energy_methods") or {}
    if methods:
        lines += ["", "Energy measured by: " + ", ".join(f"{device} {method}" for device, method in methods.items())
                  + " (counter: NVML's energy counter; integrated_power: power × time (trapezoid); rapl: RAPL power × its tick)."]
    flagged = [f["name"] for f in report["figures"] if f["reproducible"] is False]
    lines += ["", f"Not reproducible (CV over {limit}): {', '.join(flagged)}" if flagged
              else f"Every figure with a CV is within {limit}."]
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "°": r"\textdegree{}",
                  "−": "--", "—": "--"}


def _tex(text: Any) -> str:
    return "".join(_LATEX_SPECIAL.get(char, char) for char in inert(text))


def latex(report: dict[str, Any]) -> str:
    """Two tables (hardware, results), booktabs style, ready to \\input into a thesis."""
    group = _tex(report["group_id"])
    out = [r"% rigscope reproducibility report; needs \usepackage{booktabs}",
           r"\begin{table}[ht]", r"\centering", r"\begin{tabular}{llllr}", r"\toprule",
           r"Host & CPU & GPUs & Driver & Sessions \\", r"\midrule"]
    for config in report["hardware"]:
        gpus = ", ".join(str(name or "?") for name in config["gpus"]) or "none"
        out.append(" & ".join(_tex(v) for v in (config["hostname"], config["cpu_model"] or "?", gpus,
                                                config["driver"] or "--", config["sessions"])) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", rf"\caption{{Hardware of run group {group}.}}",
            r"\end{table}", "", r"\begin{table}[ht]", r"\centering", r"\begin{tabular}{lrrrrrl}", r"\toprule",
            " & ".join(_tex(h) for h in HEADER) + r" \\", r"\midrule"]
    out += [" & ".join(_tex(cell) for cell in row) + r" \\" for row in _rows(report)]
    limit = f"{100 * report['cv_limit']:.0f}"
    out += [r"\bottomrule", r"\end{tabular}",
            rf"\caption{{Results over {len(report['sessions'])} repeats of run group {group}; "
            rf"CV over {limit}\,\% is flagged not reproducible.}}", r"\end{table}"]
    return "\n".join(out) + "\n"
