"""The kinds of event in a session's stream, one name each (`events.jsonl`, the probe, the screen).

`EventKind` is a `StrEnum`: a member equals its string (`EventKind.NOTE == "note"`), so events
stay plain JSON dicts and files written before this module read the same.  `SENT` are the kinds a
workload or the command line may send (collectors.wire); the others are made inside rigscope.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    NOTE = "note"  # free text from a person or a workload
    TAG = "tag"  # the workload phase from now on
    SPAN_START = "span_start"  # a timed piece of work began (probe)
    SPAN_END = "span_end"  # and ended
    METRIC = "metric"  # a custom number (probe)
    COLLAPSE_START = "collapse_start"  # a device's RLE collapse began (signals)
    COLLAPSE_END = "collapse_end"
    ALERT = "alert"  # a device alert (signals)
    CLOCK_STEP = "clock_step"  # the wall clock jumped (sampler)
    NOTICE = "notice"  # a message of rigscope itself, shown on the screen only


SENT = frozenset({EventKind.NOTE, EventKind.TAG, EventKind.SPAN_START, EventKind.SPAN_END, EventKind.METRIC})
SPAN_KINDS = frozenset({EventKind.SPAN_START, EventKind.SPAN_END})
COLLAPSE_KINDS = frozenset({EventKind.COLLAPSE_START, EventKind.COLLAPSE_END})
