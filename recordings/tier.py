"""Hardware tier: a short lower-case name for the machine class, used to group sessions.

Derived from the model names (`intel_i5`, `amd_ryzen5`, `apple_m1`,
`nvidia_rtx3060`, `nvidia_h100`); a GPU's tier wins over the CPU's.
"""

from __future__ import annotations

import re

_GPU_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"\b(rtx|gtx)\s*(\d{3,4})\s*(ti|super)?", "nvidia_{0}{1}{2}"),
    (r"\b(rtx)\s*(a\d{3,4}|pro\s*\d{3,4})", "nvidia_rtx{1}"),
    (r"\b(gh|gb|b|h|a|l|v|t|p)(\d{2,3})\b", "nvidia_{0}{1}"),
    (r"\b(titan)\s*(\w+)?", "nvidia_titan{1}"),
)
_CPU_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"\bcore\(tm\)\s*ultra\s*(\d)", "intel_ultra{0}"),
    (r"\bi([3579])[- ]", "intel_i{0}"),
    (r"\bcore\(tm\)\s*i([3579])", "intel_i{0}"),
    (r"\bxeon", "intel_xeon"),
    (r"\bryzen\s*(?:ai\s*)?(?:threadripper\s*)?(\d)", "amd_ryzen{0}"),
    (r"\bthreadripper", "amd_threadripper"),
    (r"\bepyc", "amd_epyc"),
    (r"\bapple\s*(m\d)", "apple_{0}"),
)


def _match(name: str, patterns: tuple[tuple[str, str], ...]) -> str | None:
    text = name.lower()
    for pattern, template in patterns:
        found = re.search(pattern, text)
        if found:
            parts = [re.sub(r"\s+", "", part or "") for part in found.groups()]
            return template.format(*parts)
    return None


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def hardware_tier(cpu_model: str | None, gpu_names: list[str]) -> str:
    """Tier of the first GPU if there is one, else of the CPU; `unknown` when nothing is known."""
    for gpu in gpu_names:
        if gpu:
            return _match(gpu, _GPU_PATTERNS) or "nvidia_" + _slug(gpu.replace("NVIDIA", ""))
    if cpu_model:
        return _match(cpu_model, _CPU_PATTERNS) or _slug(cpu_model)[:40] or "unknown"
    return "unknown"
