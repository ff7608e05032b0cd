"""Numbers and flags in words for the screen: units, byte sizes, throttle reasons, event lines."""

from __future__ import annotations

from typing import Any

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


def rate(bps: Any) -> str:
    return "—" if not isinstance(bps, (int, float)) else f"{size(bps)}/s"


def clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours:d}:{rest // 60:02d}:{rest % 60:02d}"


def event_line(event: dict[str, Any]) -> str:
    """`HH:MM:SS kind: what`, one line, with control characters from the sender escaped."""
    try:
        stamp = clock_of_day(us_from_iso(event["ts"]))
    except (KeyError, ValueError, TypeError):
        stamp = "--:--:--"
    kind = event.get("kind", "?")
    if kind == "note":
        what = event.get("text", "")
    elif kind == "tag":
        what = event.get("state", "")
    elif kind in ("collapse_start", "collapse_end"):
        low = event.get("min_rle")
        what = f"{event.get('device')} min RLE {low:.2f}" if isinstance(low, (int, float)) else str(event.get("device"))
    elif kind == "alert":
        what = f"{event.get('device')} {event.get('alert')}"
    elif kind == "metric":
        what = f"{event.get('name')} = {event.get('value')}"
    elif kind == "clock_step" and isinstance(event.get("step_s"), (int, float)):
        what = f"the wall clock moved {event['step_s']:+.1f} s"
    else:
        what = str(event.get("name", ""))
    return inert(f"{stamp} {str(kind).replace('_', ' ')}: {what}")


def clock_of_day(ts_us: int) -> str:
    return iso_from_us(ts_us)[11:19]
