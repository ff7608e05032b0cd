"""The timeline as Chrome trace-event JSON (`chrome://tracing`, Perfetto, and tools that only read JSON).

No dependency.  `ts` and `dur` are µs on the wall clock (µs since the Unix epoch, as the session's `ts`).
Each group (a device, the host, the workload) is a process named after the host and the device, each
track a thread of it: counters are `C` events, slices complete `X` events (a span nested in another on
the same thread is drawn below it), notes, tags and alerts thread-scoped instants `i`.  The session id,
host and clock readings are in `otherData`.
"""

from __future__ import annotations

import json
import math
from typing import IO, Any

from collectors.wire import encodable
from recordings.timeline.model import Instant, Slice, Timeline
from recordings.timeline.tracks import Layout

# Process and thread ids start above Linux's highest pid (PID_MAX_LIMIT): merged into one file with a profiler's
# trace, none is one of its processes, threads or devices (Kineto numbers a GPU's process by its index).
ID_BASE = 1 << 22


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


class ChromeWriter:
    def __init__(self, handle: IO[bytes], timeline: Timeline, layout: Layout) -> None:
        self.handle, self.timeline, self.layout = handle, timeline, layout
        self.events = 0
        self._pid = {group: ID_BASE + pid for group, pid in layout.groups.items()}
        self._track = {tid: (self._pid[group], track) for (group, track), tid in layout.tracks.items()}
        self._first = True

    def _write(self, event: dict[str, Any]) -> None:
        text = json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)
        self.handle.write((b"" if self._first else b",\n") + encodable(text).encode("utf-8"))
        self._first = False

    def header(self) -> None:
        self.handle.write(b'{"traceEvents":[\n')
        timeline = self.timeline
        for group, pid in self._pid.items():
            self._write({"name": "process_name", "ph": "M", "pid": pid, "tid": pid,
                         "args": {"name": f"{timeline.host} · {timeline.device_label(group)}"}})
            self._write({"name": "process_sort_index", "ph": "M", "pid": pid, "tid": pid,
                         "args": {"sort_index": self.layout.groups[group]}})
        for tid, (pid, track) in self._track.items():
            self._write({"name": "thread_name", "ph": "M", "pid": pid, "tid": ID_BASE + tid, "args": {"name": track}})

    def counter(self, track: int, ts_us: int, value: float) -> None:
        pid, name = self._track[track]
        unit = self.layout.units.get(track) or "value"
        self._write({"name": name, "ph": "C", "ts": ts_us, "pid": pid, "tid": ID_BASE + track, "args": {unit: value}})
        self.events += 1

    def _where(self, item: Slice | Instant) -> tuple[int, int]:
        tid = self.layout.tracks[(item.group, item.track)]
        return self._track[tid][0], ID_BASE + tid

    def slice(self, item: Slice) -> None:
        pid, tid = self._where(item)
        self._write({"name": item.name, "cat": item.track, "ph": "X", "ts": item.start_us,
                     "dur": item.end_us - item.start_us, "pid": pid, "tid": tid,
                     "args": {k: _finite(v) for k, v in item.args.items()}})
        self.events += 1

    def instant(self, item: Instant) -> None:
        pid, tid = self._where(item)
        self._write({"name": item.name, "cat": item.track, "ph": "i", "s": "t", "ts": item.ts_us,
                     "pid": pid, "tid": tid,
                     "args": {k: _finite(v) for k, v in item.args.items()}})
        self.events += 1

    def close(self) -> None:
        timeline = self.timeline
        other = {"session_id": timeline.session_id, "host": timeline.host, "clock": "REALTIME, µs since the epoch",
                 "clocks": timeline.clocks()}
        self.handle.write(b'\n],"displayTimeUnit":"ms","otherData":' + json.dumps(other).encode() + b"}\n")
