"""Host workload state (SIGNALS.md §5): tags win, else a heuristic class with 3 s hysteresis."""

from __future__ import annotations

from bisect import bisect_right

from collectors.signals.windows import MeanWindow3

AUTO = "auto"
HOLD_S = 3.0
MAX_STATES = 64  # distinct tagged states a session keeps; a tag naming a new one beyond is dropped
MAX_FUTURE_TAGS = 1000  # tags waiting for their time; beyond, the one furthest ahead is dropped
TRIM_AT = 256  # tags already in effect are forgotten (all but the current) once this many piled up


def raw_class(g: float, c: float, w: float) -> str:
    """Heuristic class from the window means of max GPU util, CPU util and disk write B/s."""
    if g >= 70.0 or c >= 80.0:
        return "compute"
    if w >= 50e6:
        return "io"
    if g >= 30.0 or c >= 50.0:
        return "data_prep"
    return "idle"


class WorkloadTracker:
    """Workload state per sample, and the seconds spent in each state."""

    __slots__ = ("_tag_ts", "_tag_state", "_applied", "_window", "_state", "_source",
                 "_run_class", "_run_start", "_t_prev", "seconds", "_states", "dropped_tags")  # fmt: skip

    def __init__(self) -> None:
        self._tag_ts: list[int] = []
        self._tag_state: list[str] = []
        self._applied = 0  # tags with ts at or before the last sample's ts
        self._window = MeanWindow3()
        self._state: str | None = None
        self._source: str | None = None
        self._run_class: str | None = None  # raw class of the current stretch, and its start
        self._run_start = 0.0
        self._t_prev = 0.0
        # Seconds per state, each sample weighted by t_{k+1} - t_k.
        self.seconds: dict[str, float] = {}
        self._states: set[str] = set()  # every state a tag named
        self.dropped_tags = 0  # over MAX_STATES or MAX_FUTURE_TAGS: what a flood of tags cannot grow

    @property
    def state(self) -> tuple[str | None, str | None]:
        """The current (state, source), None before the first sample."""
        return self._state, self._source

    def add_tag(self, ts_us: int, state: str) -> None:
        """A tag takes effect at the first sample whose ts is at or after `ts_us`."""
        if state not in self._states:
            if len(self._states) >= MAX_STATES:
                self.dropped_tags += 1
                return
            self._states.add(state)
        index = bisect_right(self._tag_ts, ts_us)
        self._tag_ts.insert(index, ts_us)
        self._tag_state.insert(index, state)
        if index < self._applied:
            # Older than a tag already in effect: it only joins the past.
            self._applied += 1
        if len(self._tag_ts) - self._applied > MAX_FUTURE_TAGS:
            self._tag_ts.pop()
            self._tag_state.pop()
            self.dropped_tags += 1

    def update(self, ts_us: int, t: float, g: float, c: float, w: float) -> tuple[str, str]:
        """One sample; `g`, `c`, `w` with nulls as 0. Returns (workload_state, workload_source)."""
        gm, cm, wm = self._window.push(t, g, c, w)
        raw = raw_class(gm, cm, wm)
        if raw != self._run_class:
            self._run_class = raw
            self._run_start = t

        tag_ts = self._tag_ts
        applied = self._applied
        while applied < len(tag_ts) and tag_ts[applied] <= ts_us:
            applied += 1
        tag = self._tag_state[applied - 1] if applied else AUTO
        if applied > TRIM_AT:  # only the tag in effect matters from the past
            del tag_ts[: applied - 1], self._tag_state[: applied - 1]
            applied = 1
        self._applied = applied

        previous = self._state
        if tag != AUTO:
            state, source = tag, "tag"
        elif self._source != "heuristic":
            # First sample, or back from a tag: restart from this sample's raw class.
            state, source = raw, "heuristic"
        else:
            assert previous is not None  # a heuristic state follows a first sample, which set one
            state, source = previous, "heuristic"
            if raw != state and t - self._run_start >= HOLD_S:
                state = raw
        if previous is not None:
            self.seconds[previous] = self.seconds.get(previous, 0.0) + (t - self._t_prev)
        self._state = state
        self._source = source
        self._t_prev = t
        return state, source
