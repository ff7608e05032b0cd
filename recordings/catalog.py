"""The list of sessions in a directory, from their meta.json files only (fast, whatever their size).

A session whose meta.json cannot be read, is not JSON, or holds values of the wrong
type is listed as `corrupt` with the reason; it never stops the listing.  This
module imports no data library, so `rigscope ls` starts fast.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from recordings.errors import InputError
from recordings.session import list_sessions, read_meta, session_status

# The keys `ls` reads and the JSON types they may hold (None: the key may be null).
_TYPES: dict[str, tuple[type, ...]] = {
    "session_id": (str,), "session_start": (str,), "session_end": (str,), "status": (str,),
    "notes": (str,), "total_samples": (int,), "host": (dict,), "summary": (dict,),
    "monitoring": (dict,), "gpus": (list,), "recorder": (dict,),
}
_TYPE_WORDS = {str: "a string", int: "an integer", dict: "an object", list: "a list"}
FIELDS = ("id", "start", "duration_s", "host", "tier", "device_type", "samples", "hz", "collapses",
          "max_temp_c", "notes", "spans", "status", "demo", "error", "path")


def _wrong_type(meta: dict[str, Any]) -> str | None:
    for key, types in _TYPES.items():
        value = meta.get(key)
        if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
            return f"meta.json: {key} is {type(value).__name__}, not {_TYPE_WORDS[types[0]]}"
    return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _seconds_between(start: Any, end: Any) -> float | None:
    try:
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except (TypeError, ValueError):
        return None


def _time_or_none(value: Any) -> str | None:
    """An ISO time as written, or None for one that is no time (another tool's or a damaged meta.json)."""
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return str(value)


def _corrupt(session: Path, reason: str) -> dict[str, Any]:
    reason = reason.replace(f"{session}/", "").replace(f"{session}: ", "")  # the row names the session
    row: dict[str, Any] = dict.fromkeys(FIELDS)
    row.update(id=session.name, status="corrupt", error=reason, path=str(session))
    return row


def catalog_row(session: Path) -> dict[str, Any]:
    """One session described by its meta.json (see FIELDS); `corrupt` with an `error` when it is unusable."""
    try:
        meta = read_meta(session)
    except InputError as error:
        return _corrupt(session, str(error))
    reason = _wrong_type(meta)
    if reason:
        return _corrupt(session, reason)
    summary = meta.get("summary") or {}
    host = meta.get("host") or {}
    devices = {k: d for k, d in (summary.get("devices") or {}).items() if isinstance(d, dict)} \
        if isinstance(summary.get("devices"), dict) else {}
    status = session_status(meta, session)
    if (meta.get("monitoring") or {}).get("source") == "imported":
        status = "imported"
    elif status == "interrupted" and meta.get("repaired_at"):
        status = "repaired"  # interrupted, then mended by `rigscope repair`: complete up to the crash
    open_ended = meta.get("status") == "recording"  # samples are counted only when the session closes
    samples = None if open_ended else meta.get("total_samples")
    duration = _number(summary.get("duration_s"))
    if duration is None and not open_ended:
        duration = _seconds_between(meta.get("session_start"), meta.get("session_end"))
    temps = [t for d in devices.values() if (t := _number(d.get("max_temp_c"))) is not None]
    spans = found if isinstance(found := summary.get("spans"), dict) else {}
    return {
        "id": session.name,  # the name commands take (a copied session keeps its old session_id)
        "start": _time_or_none(meta.get("session_start")),
        "duration_s": duration,
        "host": host.get("hostname"),
        "tier": host.get("hardware_tier"),
        "device_type": host.get("device_type"),
        "samples": samples,
        "hz": (samples - 1) / duration if samples and samples > 1 and duration else None,
        "collapses": _collapses(devices),
        "max_temp_c": max(temps) if temps else _number(summary.get("max_temp")),
        "notes": meta.get("notes"),
        "spans": spans.get("total") if isinstance(spans.get("total"), int) else None,
        "status": status,
        "demo": (meta.get("monitoring") or {}).get("source") == "simulated",  # `rigscope demo`, made-up readings
        "error": meta.get("error") if isinstance(meta.get("error"), str) else None,
        "path": str(session),
    }


def _collapses(devices: dict[str, Any]) -> int | None:
    """Collapse events over the devices; None when a device could not have them counted (an import without RLE)."""
    counts = [_number(d.get("collapse_events")) for d in devices.values()]
    known = [int(count) for count in counts if count is not None]
    return None if not counts or len(known) < len(counts) else sum(known)


def catalog(root: Path) -> list[dict[str, Any]]:
    """Every session under `root`, newest first."""
    return [catalog_row(session) for session in reversed(list_sessions(root))]
