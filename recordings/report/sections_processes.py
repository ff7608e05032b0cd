"""The report section naming the processes that held each GPU during each collapse event."""

from __future__ import annotations

from collectors.event_kinds import EventKind
from recordings.process_attribution import collapse_section
from recordings.report.data import SessionData


def processes(data: SessionData) -> str | None:
    """Left out when the session had no collapse; says so when it was recorded without the process tier."""
    if not data.events_of(EventKind.COLLAPSE_END):
        return None
    return collapse_section(data.path)
