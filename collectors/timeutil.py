"""Timestamps as frames carry them: integer microseconds since the Unix epoch, UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_from_us(ts_us: int) -> str:
    """ISO 8601 UTC with microseconds and a trailing Z, as events.jsonl writes it."""
    return (EPOCH + timedelta(microseconds=ts_us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def us_from_iso(text: str) -> int:
    """Parse an ISO 8601 timestamp (``Z`` or an offset; naive means UTC) to µs."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
