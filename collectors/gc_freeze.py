"""Moving long-lived objects out of the cyclic garbage collector's rounds: one switch for the process.

Modules, styles, widgets, collectors and buffers made at start-up live as long as the
session or the app: a full collection walked all of them (85,000 objects) with the GIL
held, 45-60 ms in which neither the screen nor the sampler moved.  `gc.freeze()` takes
what exists out of the rounds; what comes later is collected as usual.  The monitor and
the dashboard app each hold the freeze while they run, and one may stop before the
other: the objects are given back to the collector only when the last holder lets go.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_holders = 0


def hold() -> None:
    """Freeze what exists now (again: objects made since the last call join the frozen ones)."""
    global _holders
    with _lock:
        _holders += 1
        gc.freeze()


def release() -> None:
    """Let go of one `hold`; the last one gives every frozen object back to the collector."""
    global _holders
    with _lock:
        if _holders == 0:
            return
        _holders -= 1
        if _holders == 0:
            gc.unfreeze()
