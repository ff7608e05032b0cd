"""A session as a timeline: `rigscope export --to perfetto|chrome-trace`.

`model` reads the session into counter tracks, slices and instants (a slice of samples at a time), with
`runs` (phases, throttle episodes, collapses), `spans` (probe spans on lanes) and `clock` (one clock across
wall-clock steps); `perfetto` and `chrome` write them out; `window` parses the time bounds; `write` ties
them together.
"""
