"""The kinds of event in a session's stream, one name each (`events.jsonl`, the probe, the screen).

`EventKind.NOTE` and the others are plain strings (`EventKind.NOTE == "note"`), not enum members:
events stay plain JSON dicts that any reader (json, polars) takes as text, and files written
before this module read the same.  `SENT` are the kinds a workload or the command line may send
(collectors.wire); the others are made inside rigscope.
"""

from __future__ import annotations

from typing import Final


class EventKind:
    NOTE: Final = "note"  # free text from a person or a workload
    TAG: Final = "tag"  # the workload phase from now on
    SPAN_START: Final = "span_start"  # a timed piece of work began (probe)
    SPAN_END: Final = "span_end"  # and ended
    METRIC: Final = "metric"  # a custom number (probe)
    COLLAPSE_START: Final = "collapse_start"  # a device's RLE collapse began (signals)
    COLLAPSE_END: Final = "collapse_end"
    ALERT: Final = "alert"  # a device alert (signals)
    CLOCK_STEP: Final = "clock_step"  # the wall clock jumped (sampler)
    NOTICE: Final = "notice"  # a message of rigscope itself, shown on the screen only


SENT: Final = frozenset({EventKind.NOTE, EventKind.TAG, EventKind.SPAN_START, EventKind.SPAN_END, EventKind.METRIC})
SPAN_KINDS: Final = frozenset({EventKind.SPAN_START, EventKind.SPAN_END})
COLLAPSE_KINDS: Final = frozenset({EventKind.COLLAPSE_START, EventKind.COLLAPSE_END})
