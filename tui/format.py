"""Numbers and flags in words for the screen: units, byte sizes, throttle reasons, event lines."""

from __future__ import annotations

from typing import Any

from collectors.event_kinds import COLLAPSE_KINDS, EventKind
from collectors.timeutil import iso_from_us, us_from_iso
from recordings.inert import inert

THROTTLE_WORDS: tuple[tuple[int, str], ...] = (
    (0x4, "power cap"),
    (0x8, "HW slowdown"),
    (0x20, "thermal slowdown"),
    (0x40, "HW thermal slowdown"),
    (0x80, "power brake"),
    (0x2, "app clocks"),
    (0x10, "sync boost"),
    (0x100, "display clocks"),
)


def throttle_words(mask: Any) -> str:
    """Active throttle reasons in words; empty when none (GPU idle, 0x1, is not throttling)."""
    if not isinstance(mask, int) or not mask:
        return ""
    return ", ".join(word for bit, word in THROTTLE_WORDS if mask & bit)


def num(value: Any, unit: str = "", digits: int = 0, width: int = 0) -> str:
    text = "—" if not isinstance(value, (int, float)) else f"{value:.{digits}f}{unit}"
    return text.rjust(width)


def metric(value: Any) -> str:
    """A custom metric's value in at most about 8 characters (NaN and infinities as Python writes them)."""
    return "—" if not isinstance(value, (int, float)) or isinstance(value, bool) else f"{value:.4g}"


def size(count: Any) -> str:
    if not isinstance(count, (int, float)):
        return "—"
    value = float(count)
    for unit in ("B", "K", "M", "G", "T"):
        if abs(value) < 1024 or unit == "T":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}T"


def size_rank(count: Any) -> float:
    """A byte count rounded as `size` shows it (0.1 of its unit): sizes that look the same rank the same."""
    if not isinstance(count, (int, float)):
        return 0.0
    value, scale = float(count), 1.0
    while abs(value) >= 1024 and scale < 1024**4:
        value, scale = value / 1024, scale * 1024
    return round(value, 0 if scale == 1.0 else 1) * scale


def rate(bps: Any) -> str:
    return "—" if not isinstance(bps, (int, float)) else f"{size(bps)}/s"


def clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours:d}:{rest // 60:02d}:{rest % 60:02d}"


def session_origin_us(frame: dict[str, Any]) -> int | None:
    """Wall-clock µs of the session's elapsed 0, from a frame (`ts` µs and `elapsed_s`); None without them."""
    ts, elapsed = frame.get("ts"), frame.get("elapsed_s")
    if not isinstance(ts, (int, float)) or not isinstance(elapsed, (int, float)):
        return None
    return int(ts - elapsed * 1e6)


def event_time_us(event: dict[str, Any], origin_us: int | None) -> int:
    """When an event happened, as the report says: a collapse at its `start` (its end at `end`), seconds
    from the session's elapsed 0, not when it was detected (7 s later or more); anything else at `ts`."""
    at = {EventKind.COLLAPSE_START: "start", EventKind.COLLAPSE_END: "end"}.get(str(event.get("kind")))
    moment = event.get(at) if at else None
    if origin_us is not None and isinstance(moment, (int, float)):
        return origin_us + int(round(moment * 1e6))
    return us_from_iso(event["ts"])


def event_line(event: dict[str, Any], origin_us: int | None = None) -> str:
    """`HH:MM:SS kind: what`, one line, with control characters from the sender escaped."""
    try:
        stamp = clock_of_day(event_time_us(event, origin_us))
    except (KeyError, ValueError, TypeError):
        stamp = "--:--:--"
    kind = event.get("kind", "?")
    if kind in (EventKind.NOTE, EventKind.NOTICE):
        what = event.get("text", "")
    elif kind == EventKind.TAG:
        what = event.get("state", "")
    elif kind in COLLAPSE_KINDS:
        low = event.get("min_rle")
        what = f"{event.get('device')} min RLE {low:.2f}" if isinstance(low, (int, float)) else str(event.get("device"))
    elif kind == EventKind.ALERT:
        what = f"{event.get('device')} {event.get('alert')}"
    elif kind == EventKind.METRIC:
        what = f"{event.get('name')} = {event.get('value')}"
    elif kind == EventKind.CLOCK_STEP and isinstance(event.get("step_s"), (int, float)):
        what = f"the wall clock moved {event['step_s']:+.1f} s"
    else:
        what = str(event.get("name", ""))
    return inert(f"{stamp} {str(kind).replace('_', ' ')}: {what}")


def clock_of_day(ts_us: int) -> str:
    return iso_from_us(ts_us)[11:19]


UNIT_SUFFIXES: tuple[tuple[str, str, int], ...] = (  # column suffix, unit, digits
    ("_pct", " %", 1), ("_c", " °C", 1), ("_w", " W", 1), ("_mhz", " MHz", 0), ("_s", " s", 1),
)


def energy(joules: float) -> str:
    for unit, scale in (("MJ", 1e6), ("kJ", 1e3)):
        if abs(joules) >= scale:
            return f"{joules / scale:.1f} {unit}"
    return f"{joules:.1f} J"


def column_value(name: str, value: Any) -> str:
    """One column of a frame in words and units, as the details dialog shows it."""
    if value is None:
        return "— (no reading)"
    if name.endswith("throttle_reasons"):
        return throttle_words(value) or "none"
    if name.endswith("_alerts"):
        return str(value).replace("|", ", ") or "none"
    if name.endswith("_collapse"):
        return "yes" if value == 1 else "no"
    if name.endswith("_pstate"):
        return f"P{value}"
    if isinstance(value, (list, tuple)):
        numbers = [v for v in value if isinstance(v, (int, float))]
        if not numbers:
            return f"{len(value)} values, none read"
        unit = next((u for suffix, u, _ in UNIT_SUFFIXES if name.endswith(suffix)), "")
        return (f"{len(value)} values: min {min(numbers):.0f}{unit}, mean {sum(numbers) / len(numbers):.0f}{unit}, "
                f"max {max(numbers):.0f}{unit}")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)
    if name.endswith("_bytes"):
        return size(value)
    if name.endswith("_bps"):
        return rate(value)
    if name.endswith("_j"):
        return energy(value)
    for suffix, unit, digits in UNIT_SUFFIXES:
        if name.endswith(suffix):
            return f"{value:.{digits}f}{unit}"
    return f"{value:.3g}" if isinstance(value, float) else str(value)
