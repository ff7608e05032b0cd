"""Where each piece of a timeline goes: one group per device (plus the host and the workload), a
track per counter, per kind of slice and per lane of spans, numbered for the writers.

Every track is known before the first event is written (the span table, the events and the columns
say which), so a writer can describe them all up front and then stream the samples."""

from __future__ import annotations

from dataclasses import dataclass, field

from recordings.timeline.model import PHASES, Counter, Instant, Slice, Timeline


@dataclass
class Layout:
    groups: dict[str, int] = field(default_factory=dict)  # group -> id, from 1
    tracks: dict[tuple[str, str], int] = field(default_factory=dict)  # (group, track) -> id, after the groups
    counters: dict[str, int] = field(default_factory=dict)  # sample column -> track id
    metrics: dict[str, int] = field(default_factory=dict)  # metric name -> track id
    units: dict[int, str] = field(default_factory=dict)  # counter track id -> unit

    def group(self, name: str) -> int:
        return self.groups.setdefault(name, len(self.groups) + 1)

    def track(self, group: str, track: str) -> int:
        self.group(group)
        return self.tracks.setdefault((group, track), 1000 + len(self.tracks))


def counter_track_name(counter: Counter) -> str:
    return f"{counter.group} {counter.name}"


def layout_of(timeline: Timeline, spans: list[Slice], instants: list[Instant], metric_names: list[str]) -> Layout:
    layout = Layout()
    layout.group("workload")
    if any(c.group == "host" for c in timeline.counters):
        layout.group("host")
    for device in timeline.devices:
        layout.group(device)
    layout.track("workload", PHASES)
    for s in spans:
        layout.track(s.group, s.track)
    for name in metric_names:
        layout.metrics[name] = layout.track("workload", f"metric: {name}")
        layout.units[layout.metrics[name]] = ""
    for counter in timeline.counters:
        track = layout.track(counter.group, counter_track_name(counter))
        layout.counters[counter.column] = track
        layout.units[track] = counter.unit
    for run_track, group in timeline.run_tracks():
        layout.track(group, run_track)
    for instant in instants:
        layout.track(instant.group, instant.track)
    return layout
