"""The list of sessions in a directory, from their meta.json files only (fast, whatever their size)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recordings.errors import InputError
from recordings.reader import session_status
from recordings.session import list_sessions, read_meta


def catalog_row(session: Path) -> dict[str, Any]:
    """One session described: id, start, host, tier, duration, samples, collapses, notes, status."""
    try:
        meta = read_meta(session)
    except InputError as error:
        return {"id": session.name, "status": "corrupt", "error": str(error), "path": str(session)}
    summary = meta.get("summary") if isinstance(meta.get("summary"), dict) else {}
    host = meta.get("host") if isinstance(meta.get("host"), dict) else {}
    devices = summary.get("devices") if isinstance(summary.get("devices"), dict) else {}
    collapses = sum(d.get("collapse_events") or 0 for d in devices.values() if isinstance(d, dict))
    status = session_status(meta)
    if (meta.get("monitoring") or {}).get("source") == "imported":
        status = "imported"
    return {
        "id": meta.get("session_id") or session.name,
        "start": meta.get("session_start"),
        "host": host.get("hostname"),
        "tier": host.get("hardware_tier"),
        "duration_s": summary.get("duration_s"),
        "samples": meta.get("total_samples"),
        "collapses": collapses,
        "notes": meta.get("notes"),
        "status": status,
        "path": str(session),
    }


def catalog(root: Path) -> list[dict[str, Any]]:
    """Every session under `root`, newest first."""
    return [catalog_row(session) for session in reversed(list_sessions(root))]
