"""The signal pipeline: every derived column and event of SIGNALS.md, live and offline.

`process` takes one frame (a dict) at a time, as the sampler does; `process_columns`
takes a whole session column by column, as `rigscope analyze` does.  Both drive
the same `DeviceSignals.update` and `WorkloadTracker.update`, so the numbers agree.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Any

from collectors.schema import DERIVED_COLUMN_TEMPLATE, column, derived_columns, device_prefixes
from collectors.signals.device import DeviceSignals
from collectors.signals.session_time import SessionTime
from collectors.signals.summary import build_summary
from collectors.signals.workload import WorkloadTracker
from collectors.timeutil import iso_from_us

Frame = dict[str, Any]
Event = dict[str, Any]

# Raw inputs of a device's update, in argument order after `t`.
INPUT_TEMPLATE = (
    "{p}_util_pct",
    "{p}_temp_c",
    "{p}_power_w",
    "{p}_power_limit_w",
    "{p}_temp_limit_c",
)


def clean(value: Any) -> Any:
    """A frame value as the signals want it: None for missing or NaN."""
    if value is None or value != value:
        return None
    return value


def clean_int(value: Any) -> int | None:
    """A bitmask value (an int, or a float read from a CSV) as an int; None for null."""
    if value is None or value != value:
        return None
    return value if type(value) is int else int(value)


class SignalPipeline:
    """Streaming derived signals of one session: per device, plus the host workload state."""

    def __init__(self, gpu_indices: Sequence[int]) -> None:
        self.gpu_indices = list(gpu_indices)
        self.prefixes = device_prefixes(self.gpu_indices)
        self.devices = [DeviceSignals(prefix) for prefix in self.prefixes]
        self.workload = WorkloadTracker()
        self.time = SessionTime()
        self._pending_tags: list[tuple[int, str]] = []  # (wall ts, state), placed at the next sample
        self.derived_names = list(derived_columns(self.gpu_indices))
        self._inputs = [tuple(name.format(p=p) for name in INPUT_TEMPLATE) for p in self.prefixes]
        self._throttle_cols = [None, *(column(p, "throttle_reasons") for p in self.prefixes[1:])]
        self._sm_cols = [None, *(column(p, "sm_active_pct") for p in self.prefixes[1:])]
        self._energy_cols = [None, *(column(p, "energy_j") for p in self.prefixes[1:])]
        self._outputs = [tuple(name.format(p=p) for name in DERIVED_COLUMN_TEMPLATE) for p in self.prefixes]
        self._gpu_util_cols = [column(p, "util_pct") for p in self.prefixes[1:]]
        self._violation_cols = [
            (device, column(device.prefix, f"violation_{kind}_s"), kind) for device in self.devices[1:] for kind in ("power", "thermal")
        ]
        self.samples = 0
        self.t_first: float | None = None
        self.t_last: float | None = None
        self._ts_first: int | None = None
        self._ts_last: int | None = None

    def add_tag(self, ts_us: int, state: str) -> None:
        """Tag the workload state from `ts_us` on; `auto` returns to the heuristic.

        The tag goes on the session's time at the next sample, once that sample's clock step (if any) is known."""
        self._pending_tags.append((int(ts_us), str(state)))

    def _session_us(self, ts_us: int, t: float) -> int:
        """A sample's ts on the session's time; the tags that came before it are placed on that time too."""
        session_us = self.time.sample(ts_us, t)
        if self._pending_tags:
            for tag_us, state in self._pending_tags:
                self.workload.add_tag(self.time.tag(tag_us), state)
            self._pending_tags.clear()
        return session_us

    def _elapsed(self, ts_us: int, elapsed: Any) -> float:
        elapsed = clean(elapsed)
        if elapsed is not None:
            return float(elapsed)
        # No monotonic time in the frame: fall back to the wall clock since the first frame.
        first = ts_us if self._ts_first is None else self._ts_first
        return (ts_us - first) / 1e6

    def process(self, frame: Frame) -> list[Event]:
        """Add every derived column to `frame` in place; return the events of this sample."""
        ts_us = int(frame["ts"])
        t = self._elapsed(ts_us, frame.get("elapsed_s"))
        self._advance(ts_us, t)
        get = frame.get
        events: list[Event] = []
        mem_util = clean(get("mem_util_pct"))
        # `clean` inline (NaN -> None; None != None is False): 50 calls a tick less.
        for device, inputs, throttle_col, sm_col, energy_col, outputs in zip(
            self.devices, self._inputs, self._throttle_cols, self._sm_cols, self._energy_cols, self._outputs
        ):
            util, temp, power, limit, tlimit = map(get, inputs)
            if throttle_col is None:
                throttle, mem, sm, energy = None, mem_util, None, None
            else:
                throttle, mem, sm, energy = clean_int(get(throttle_col)), None, get(sm_col), get(energy_col)
                sm = None if sm != sm else sm
                energy = None if energy != energy else energy
            values = device.update(
                t, None if util != util else util, None if temp != temp else temp,
                None if power != power else power, None if limit != limit else limit,
                None if tlimit != tlimit else tlimit, throttle, mem, sm, energy,
            )  # fmt: skip
            frame.update(zip(outputs, values))
            if device.events:
                iso = iso_from_us(ts_us)
                events.extend({"ts": iso, **event} for _, event in device.events)
                device.events.clear()
        for device, name, kind in self._violation_cols:
            value = get(name)
            if value is not None and value == value:
                device.throttle.violation(kind, value)  # type: ignore[union-attr]
        g = 0.0
        for name in self._gpu_util_cols:
            value = get(name)
            if value is not None and value > g:  # NaN is not
                g = value
        state, source = self.workload.update(
            self._session_us(ts_us, t), t, g, clean(get("cpu_util_pct")) or 0.0, clean(get("disk_write_bps")) or 0.0
        )
        frame["workload_state"] = state
        frame["workload_source"] = source
        return events

    def _advance(self, ts_us: int, t: float) -> None:
        if self._ts_first is None:
            self._ts_first = ts_us
            self.t_first = t
        self._ts_last = ts_us
        self.t_last = t
        self.samples += 1

    def process_columns(
        self, ts_us: Sequence[int], columns: Mapping[str, Sequence[Any]]
    ) -> tuple[dict[str, list[Any]], list[Event]]:
        """Many samples at once, column by column (the offline path).

        `columns` maps raw column names to sequences as long as `ts_us` (None or NaN for
        null; an absent column is all null). Returns the derived columns and the events,
        exactly as calling `process` on each row in turn would; consecutive calls continue
        the same session, so a long one can go through in chunks."""
        n = len(ts_us)
        if n == 0:
            return {name: [] for name in self.derived_names}, []
        # Millions of small result tuples would make the cyclic GC rescan them over and
        # over (it nearly doubles the time); none of them can form a cycle.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._process_columns(n, ts_us, columns)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _process_columns(
        self, n: int, ts_us: Sequence[int], columns: Mapping[str, Sequence[Any]]
    ) -> tuple[dict[str, list[Any]], list[Event]]:
        if self._ts_first is None:
            self._ts_first = ts_us[0]
        t = list(map(self._elapsed, ts_us, columns.get("elapsed_s", repeat(None, n))))
        nulls: list[Any] = [None] * n
        throttle: Sequence[Any]
        mem: Sequence[Any]
        sm: Sequence[Any]
        energy: Sequence[Any]

        def values_of(name: str) -> Sequence[Any]:
            values = columns.get(name)
            if values is None:
                return nulls
            return [None if value != value else value for value in values]  # NaN -> None, inline for speed

        first_index = self.samples  # devices number their samples from the session's start
        out: dict[str, list[Any]] = {}
        tagged: list[tuple[int, int, Event]] = []  # (sample index, device order, event)
        mem_util = values_of("mem_util_pct")
        for order, (device, inputs, throttle_col, sm_col, energy_col, outputs) in enumerate(
            zip(self.devices, self._inputs, self._throttle_cols, self._sm_cols, self._energy_cols, self._outputs)
        ):
            if throttle_col is None:
                throttle, mem, sm, energy = nulls, mem_util, nulls, nulls
            else:
                values = columns.get(throttle_col)
                throttle = nulls if values is None else [clean_int(v) for v in values]
                mem, sm, energy = nulls, values_of(sm_col), values_of(energy_col)
            rows = list(map(device.update, t, *(values_of(name) for name in inputs), throttle, mem, sm, energy))
            for name, values in zip(outputs, zip(*rows)):
                out[name] = list(values)
            tagged.extend((index, order, event) for index, event in device.events)
            device.events.clear()
        for device, name, kind in self._violation_cols:
            for value in values_of(name):
                if value is not None:
                    device.throttle.violation(kind, value)  # type: ignore[union-attr]

        gpu_utils = [values_of(name) for name in self._gpu_util_cols]
        g: list[float] = [0.0] * n
        for values in gpu_utils:
            g = [v if v is not None and v > m else m for m, v in zip(g, values)]
        c = [v or 0.0 for v in values_of("cpu_util_pct")]
        w = [v or 0.0 for v in values_of("disk_write_bps")]
        states = list(map(self.workload.update, map(self._session_us, ts_us, t), t, g, c, w))
        out["workload_state"], out["workload_source"] = (list(v) for v in zip(*states))

        if self.t_first is None:
            self.t_first = t[0]
        self._ts_last = ts_us[-1]
        self.t_last = t[-1]
        self.samples += n
        tagged.sort(key=lambda item: (item[0], item[1]))
        events = [{"ts": iso_from_us(ts_us[index - first_index]), **event} for index, _, event in tagged]
        return {name: out[name] for name in self.derived_names}, events

    def finish(self) -> list[Event]:
        """End any active collapse at the last sample's time; return those collapse_end events."""
        if self.t_last is None or self._ts_last is None:
            return []
        iso = iso_from_us(self._ts_last)
        events = []
        for device in self.devices:
            event = device.finish(self.t_last)
            if event is not None:
                events.append({"ts": iso, **event})
        return events

    def summary(self) -> dict[str, Any]:
        """The session summary of SIGNALS.md §6, with throttle accounting per GPU."""
        return build_summary(self.samples, self.t_first, self.t_last, self.devices, self.workload.seconds,
                             self.workload.dropped_tags)

    @property
    def collapse_events(self) -> list[dict[str, Any]]:
        """Finished and active collapse events so far: device, start, end (None while active), min_rle."""
        events = [event for device in self.devices for event in device.collapse.all_events()]
        order = {prefix: i for i, prefix in enumerate(self.prefixes)}
        events.sort(key=lambda event: (event["start"], order[event["device"]]))
        return events
