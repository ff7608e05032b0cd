"""The timeline as a Perfetto trace (`.pftrace`), written with the `perfetto` package's streaming builder.

Every event is stamped on REALTIME (the session's `ts`, in ns), the trace's primary clock.  The first
packet is a clock snapshot: REALTIME, and MONOTONIC and BOOTTIME where the recorder read them at the
session's start, so that Perfetto places the session next to another trace of the same machine.  The
host is the machine's name (`SystemInfo.machine_name`); each device is a track group with its
counters, throttle episodes, collapses and alerts; the workload's group holds the phases, the spans
(nested spans nested) and its own metrics.
"""

from __future__ import annotations

import math
from typing import IO, Any

from collectors.wire import encodable
from recordings.errors import InputError
from recordings.timeline.model import Instant, Slice, Timeline
from recordings.timeline.tracks import Layout

INSTALL = "the perfetto export needs the perfetto package: pip install 'rigscope[trace]'"
SEQUENCE = 1
NS = 1000  # µs to ns


def _pb() -> Any:
    try:
        from perfetto.protos.perfetto.trace import perfetto_trace_pb2
        from perfetto.trace_builder.proto_builder import StreamingTraceProtoBuilder
    except ImportError:
        raise InputError(INSTALL) from None
    return perfetto_trace_pb2, StreamingTraceProtoBuilder


def check_available() -> None:
    """InputError with the install line when the `perfetto` package is missing."""
    _pb()


class PerfettoWriter:
    def __init__(self, handle: IO[bytes], timeline: Timeline, layout: Layout) -> None:
        self.pb, builder = _pb()
        self.builder = builder(handle)
        self.timeline, self.layout = timeline, layout
        self.events = 0

    def _packet(self, ts_us: int | None = None) -> Any:
        packet = self.builder.create_packet()
        packet.trusted_packet_sequence_id = SEQUENCE
        if ts_us is not None:
            packet.timestamp = ts_us * NS
            packet.timestamp_clock_id = self.pb.BUILTIN_CLOCK_REALTIME
        return packet

    def header(self) -> None:
        pb, timeline = self.pb, self.timeline
        packet = self._packet()
        packet.sequence_flags = pb.TracePacket.SEQ_INCREMENTAL_STATE_CLEARED
        snapshot = packet.clock_snapshot
        snapshot.primary_trace_clock = pb.BUILTIN_CLOCK_REALTIME
        clocks = timeline.clocks()
        if clocks is None:
            first = next(iter(timeline.samples([])), None)
            clocks = {"realtime_ns": int(first["ts_us"][0]) * NS if first is not None else 0}
        for key, clock_id in (("realtime_ns", pb.BUILTIN_CLOCK_REALTIME), ("monotonic_ns", pb.BUILTIN_CLOCK_MONOTONIC),
                              ("boottime_ns", pb.BUILTIN_CLOCK_BOOTTIME)):
            if key in clocks:
                clock = snapshot.clocks.add()
                clock.clock_id, clock.timestamp = clock_id, clocks[key]
        self.builder.write_packet(packet)
        info = self._packet()
        info.system_info.machine_name = encodable(timeline.host)
        self.builder.write_packet(info)
        self._describe()

    def _describe(self) -> None:
        layout, timeline = self.layout, self.timeline
        for group, uuid in layout.groups.items():
            packet = self._packet()
            packet.track_descriptor.uuid = uuid
            packet.track_descriptor.name = encodable(f"{timeline.host} · {timeline.device_label(group)}")
            self.builder.write_packet(packet)
        for (group, name), uuid in layout.tracks.items():
            packet = self._packet()
            descriptor = packet.track_descriptor
            descriptor.uuid, descriptor.parent_uuid, descriptor.name = uuid, layout.groups[group], encodable(name)
            if uuid in layout.units:
                unit = layout.units[uuid]
                if unit == "bytes":
                    descriptor.counter.unit = self.pb.CounterDescriptor.UNIT_SIZE_BYTES
                else:
                    descriptor.counter.unit_name = unit
            self.builder.write_packet(packet)

    def counter(self, track: int, ts_us: int, value: float) -> None:
        packet = self._packet(ts_us)
        event = packet.track_event
        event.type, event.track_uuid, event.double_counter_value = self.pb.TrackEvent.TYPE_COUNTER, track, value
        self.builder.write_packet(packet)
        self.events += 1

    def _event(self, kind: Any, track: int, ts_us: int, name: str | None, args: dict[str, Any]) -> None:
        packet = self._packet(ts_us)
        event = packet.track_event
        event.type, event.track_uuid = kind, track
        if name is not None:
            event.name = encodable(name)
        for key, value in args.items():
            if value is None or isinstance(value, float) and not math.isfinite(value):
                continue  # no reading: no argument (null in the JSON), never the text "None" or "nan"
            annotation = event.debug_annotations.add()
            annotation.name = encodable(key)
            if isinstance(value, bool):
                annotation.bool_value = value
            elif isinstance(value, int) and -2**63 <= value < 2**63:
                annotation.int_value = value
            elif isinstance(value, float):
                annotation.double_value = value
            else:
                annotation.string_value = encodable(str(value))
        self.builder.write_packet(packet)
        self.events += 1

    def slice(self, item: Slice) -> None:
        track = self.layout.tracks[(item.group, item.track)]
        kinds = self.pb.TrackEvent
        if item.end_us == item.start_us:  # an instant: a begin and an end at one time could be sorted apart
            self._event(kinds.TYPE_INSTANT, track, item.start_us, item.name, item.args)
            return
        self._event(kinds.TYPE_SLICE_BEGIN, track, item.start_us, item.name, item.args)
        self._event(kinds.TYPE_SLICE_END, track, item.end_us, None, {})

    def instant(self, item: Instant) -> None:
        self._event(self.pb.TrackEvent.TYPE_INSTANT, self.layout.tracks[(item.group, item.track)], item.ts_us,
                    item.name, item.args)

    def close(self) -> None:
        """Nothing follows the last packet in this format."""
