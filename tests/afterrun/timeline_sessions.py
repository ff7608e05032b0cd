"""Sessions for the timeline tests, and the exported trace decoded back into plain values.

`timeline_session` adds to a simulated recording what the simulation lacks in half a minute: probe spans
(nested, concurrent, and two children of one span running at once), a note, a tag, alerts and a metric,
a thermal throttle episode overlapping a power-cap one, and a collapse.  `decode` reads a .pftrace with
the perfetto package's protobuf classes (no trace processor)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from recordings.spans import spans_table

ISO = "%Y-%m-%dT%H:%M:%S%.6fZ"
# name, span_id, parent_id, first tick, last tick, attributes
SPANS = (("request", "a", None, 10, 60, {"model": "llama", "tokens": 120}),
         ("encode", "b", "a", 12, 30, {"batch": 4}),
         ("tokenize", "c", "b", 13, 20, {"chars": 512}),
         ("decode", "d", "a", 31, 59, {"tokens": 120}),
         ("request", "e", None, 40, 90, {"model": "mistral", "tokens": 64}),
         ("decode", "f", "e", 45, 70, {"beam": 1}),
         ("decode", "g", "e", 50, 80, {"beam": 2}),  # runs beside f: cannot nest under e on f's lane
         ("cache_hit", "h", None, 95, 95, {"tokens": 0}))  # no duration: an instant in the .pftrace
THERMAL_TICKS, POWER_CAP_TICKS, COLLAPSE_TICKS = (100, 150), (120, 130), (200, 240)


def timeline_session(session: Path) -> None:
    samples = pl.read_parquet(session / "samples.parquet", glob=False)
    ts = samples["ts"].dt.strftime(ISO).to_list()
    rows = [{"request_id": f"r-{span_id}", "name": name, "span_id": span_id, "parent_id": parent,
             "start_time": ts[first], "end_time": ts[last], "success": True, **attrs}
            for name, span_id, parent, first, last, attrs in SPANS]
    spans_table(rows).write_parquet(session / "spans.parquet")
    tick = pl.int_range(pl.len())
    thermal = tick.is_between(*THERMAL_TICKS, closed="left")
    power = tick.is_between(*POWER_CAP_TICKS, closed="left")
    samples = samples.with_columns(
        (pl.when(thermal).then(0x20).otherwise(0) | pl.when(power).then(0x4).otherwise(0) | 0x1)
        .cast(pl.UInt64).alias("gpu0_throttle_reasons"),
        pl.when(tick.is_between(*COLLAPSE_TICKS, closed="left")).then(1).otherwise(0).cast(pl.Int8)
        .alias("gpu1_collapse"))
    samples.write_parquet(session / "samples.parquet")
    events = [{"ts": ts[3], "kind": "note", "text": "warm-up done", "source": "cli"},
              {"ts": ts[20], "kind": "tag", "state": "train", "source": "cli"},
              {"ts": ts[101], "kind": "alert", "device": "gpu0", "alert": "THROTTLE_THERMAL"},
              *({"ts": ts[i], "kind": "metric", "name": "loss", "value": 2.0 - i / 100} for i in range(0, 200, 10))]
    (session / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


@dataclass
class Decoded:
    tracks: dict[int, str] = field(default_factory=dict)  # uuid -> name
    parents: dict[int, int] = field(default_factory=dict)
    counters: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # track name -> (ns, value)
    events: list[dict[str, Any]] = field(default_factory=list)  # slices' begins and ends, instants
    snapshots: list[Any] = field(default_factory=list)
    machine_names: list[str] = field(default_factory=list)
    clock_ids: set[int] = field(default_factory=set)


def _annotation(annotation: Any) -> Any:
    kind = annotation.WhichOneof("value")
    return getattr(annotation, kind) if kind else None


def decode(path: Path) -> Decoded:
    from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb

    trace = pb.Trace()
    trace.ParseFromString(path.read_bytes())
    out = Decoded()
    for packet in trace.packet:
        if packet.HasField("clock_snapshot"):
            out.snapshots.append(packet.clock_snapshot)
        if packet.HasField("system_info"):
            out.machine_names.append(packet.system_info.machine_name)
        if packet.HasField("track_descriptor"):
            out.tracks[packet.track_descriptor.uuid] = packet.track_descriptor.name
            out.parents[packet.track_descriptor.uuid] = packet.track_descriptor.parent_uuid
        if packet.HasField("track_event"):
            out.clock_ids.add(packet.timestamp_clock_id)
            event = packet.track_event
            if event.type == pb.TrackEvent.TYPE_COUNTER:
                out.counters.setdefault(out.tracks[event.track_uuid], []).append(
                    (packet.timestamp, event.double_counter_value))
            else:
                out.events.append({"ts": packet.timestamp, "type": event.type, "track": out.tracks[event.track_uuid],
                                   "name": event.name,
                                   "args": {a.name: _annotation(a) for a in event.debug_annotations}})
    return out
