"""The dashboard's replay source: plays a recorded session into the same feed the live screen reads.

A player thread moves the position at the chosen speed and reads rows from
disk as it goes; seeks are requested by the UI and carried out by that thread
(the UI never waits on the disk).  After a seek the feed is refilled with the
window before the new position, and the events up to it (custom metrics
among them); the spans pane gets the spans that had ended by the position.
Events are kept in time order, so each step takes the events of its span by
bisection.  For a session still being recorded the same thread looks for new
segments every `poll_s` seconds, and the session grows under the player.
"""

from __future__ import annotations

import bisect
import threading
import time
from pathlib import Path
from typing import Any

from collectors.event_kinds import EventKind
from collectors.process_tier import ProcessSnapshot
from collectors.schema import gpu_prefix
from collectors.timeutil import iso_from_us, us_from_iso
from recordings.catalog import catalog
from recordings.errors import InputError
from recordings.events import EVENTS, append_event, skipped_warning
from recordings.processes import PROCESSES_DIR, PROCESSES_PARQUET, ProcessTimeline, read_processes
from recordings.replay import ReplayReader, check_session
from recordings.replay_spans import ReplaySpans
from recordings.session import sample_hz
from tui.bars import SessionLabel
from tui.devices import Device, feed_columns
from tui.feed import DashboardFeed

SPEEDS: tuple[float | None, ...] = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1000.0, None)  # None: max
TICK_S = 0.05
MAX_ROWS_PER_TICK = 2000  # at high speed only the last rows of a step reach the sparklines
POLL_S = 2.0  # how often a session still being recorded is looked at for new segments


def speed_label(speed: float | None) -> str:
    return "max" if speed is None else f"x{speed:g}"


class ReplaySource:
    def __init__(self, session: Path, speed: float | None = 1.0, at_s: float | None = None,
                 poll_s: float = POLL_S) -> None:
        self.reader = ReplayReader(session)
        self.process_control = None  # recorded processes: the kill key ends nothing
        meta = self.reader.meta
        host = found if isinstance(found := meta.get("host"), dict) else {}
        self.label = SessionLabel(str(host.get("hostname", "?")), str(host.get("hardware_tier", "")),
                                  session.name, "REPLAY")
        self.devices = [Device("cpu", f"CPU {host.get('cpu_model') or ''}".strip())] + [
            Device(gpu_prefix(index), f"GPU{index} {name.replace('NVIDIA ', '')}".strip(), gpm=index in _with_gpm(meta))
            for index, name in _gpus(meta)]
        self.feed = DashboardFeed(None, feed_columns(self.devices), sample_hz(meta) or 10.0)
        self._errors: list[str] = []
        try:
            self.spans = ReplaySpans.read(session)
        except InputError as error:  # a damaged span table: the replay goes on without spans
            self.spans = ReplaySpans([], [])
            self._errors.append(f"{error}; spans not shown")
        self.feed.watch_spans(self.spans.tracker)
        stamped = sorted(((_event_us(e), e) for e in self.reader.events), key=lambda pair: pair[0])  # stable
        self.reader.events[:] = [event for _, event in stamped]  # in time order: steps and seeks bisect them
        self._event_us = [us for us, _ in stamped]
        self.speed_index = SPEEDS.index(speed) if speed in SPEEDS else SPEEDS.index(1.0)
        self.position = 0
        self.playing = True
        self._play_at = self.reader.elapsed[0]  # session time the player has reached, between rows too
        self._requested: int | None = self.reader.index_at(at_s) if at_s is not None else 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        if self.reader.skipped_events:  # once, on screen: stderr is under the dashboard
            self._errors.append(skipped_warning(session / EVENTS, self.reader.skipped_events))
        self._poll_s = poll_s
        self._process_timeline = self._open_processes(session)
        self._process_shown: ProcessSnapshot | None = None
        self._thread = threading.Thread(target=self._play, name="rigscope-replay", daemon=True)
        self._thread.start()

    # -- what the dashboard asks ------------------------------------------
    @property
    def speed(self) -> float | None:
        return SPEEDS[self.speed_index]

    def now_iso(self) -> str:
        return iso_from_us(self.reader.ts_us[self.position])

    def post(self, kind: str, ts: str, **fields: Any) -> None:
        """A note written while replaying goes into the session's events.jsonl, at the replay time."""
        event = {"ts": ts, "kind": kind, **fields}
        if kind == EventKind.NOTE:
            event["source"] = "replay"
        append_event(self.reader.session / EVENTS, event)
        with self._lock:  # from now on it is part of the session: seeks, jumps and the timeline see it
            at = bisect.bisect_right(self._event_us, _event_us(event))
            self._event_us.insert(at, _event_us(event))
            self.reader.events.insert(at, event)
        self.feed.add(None, [event])

    def _open_processes(self, session: Path) -> ProcessTimeline | None:
        if not (session / PROCESSES_PARQUET).exists() and not (session / PROCESSES_DIR).is_dir():
            return None  # recorded without a process tier (an older session, or no GPU)
        try:
            return ProcessTimeline(read_processes(session))
        except InputError as error:
            self._errors.append(f"process rows not shown: {error}")
            return None

    def processes(self) -> ProcessSnapshot | None:
        """The process rows recorded at the replay position (the last slow tick at or before it)."""
        if self._process_timeline is None:
            return None
        tick = self._process_timeline.tick_at(self.reader.ts_us[self.position])
        version = 0 if tick is None else tick + 1
        if self._process_shown is None or self._process_shown.version != version:
            rows = () if tick is None else tuple(self._process_timeline.rows_of(tick))
            ts = None if tick is None else self._process_timeline.ticks[tick]
            self._process_shown = ProcessSnapshot(version, ts, rows)
        return self._process_shown

    def recording(self) -> None:
        return None

    def toggle_recording(self) -> str:
        return "replay does not record"

    def notices(self) -> list[str]:
        errors, self._errors = self._errors, []
        return errors

    def close(self) -> str:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=2)
        return f"rigscope: replayed {self.reader.session}"

    # -- controls (UI thread) ---------------------------------------------
    def toggle_play(self) -> None:
        self.playing = not self.playing

    def change_speed(self, step: int) -> None:
        self.speed_index = max(0, min(len(SPEEDS) - 1, self.speed_index + step))

    def seek_index(self, index: int) -> None:
        with self._lock:
            self._requested = max(0, min(len(self.reader) - 1, index))
        self._wake.set()

    def seek_elapsed(self, elapsed_s: float) -> None:
        self.seek_index(self.reader.index_at(elapsed_s))

    def step(self, rows: int) -> None:
        self.playing = False
        self.seek_index(self._target() + rows)

    def step_seconds(self, seconds: float) -> None:
        self.seek_elapsed(self.reader.elapsed[self._target()] + seconds)

    def _target(self) -> int:
        with self._lock:
            return self._requested if self._requested is not None else self.position

    def jump(self, kinds: tuple[str, ...], forward: bool) -> bool:
        """To the row of the next (or previous) event of these kinds; False when there is none.

        An event shows at the first row at or after its time, so events between two rows are
        reached too, and a second jump moves past the one the position is on.
        """
        here = self._target()
        ts_us = self.reader.ts_us
        with self._lock:
            if forward:  # shown after `here`: later than its row
                start = bisect.bisect_right(self._event_us, ts_us[here])
                found = next((i for i in range(start, len(self._event_us))
                              if self.reader.events[i].get("kind") in kinds), None)
            else:  # shown before `here`: at or before the row before it
                start = bisect.bisect_right(self._event_us, ts_us[here - 1]) if here > 0 else 0
                found = next((i for i in range(start - 1, -1, -1) if self.reader.events[i].get("kind") in kinds),
                             None)
            chosen = None if found is None else self.reader.index_from_ts(self._event_us[found])
        if chosen is None or chosen == here:  # (an event after the last row shows on it: nothing further)
            return False
        self.seek_index(chosen)
        return True

    def events_between(self, low_us: int | None, high_us: int) -> list[dict[str, Any]]:
        """The events with low_us < ts <= high_us (from the start when low_us is None), in time order."""
        with self._lock:
            first = 0 if low_us is None else bisect.bisect_right(self._event_us, low_us)
            return self.reader.events[first:bisect.bisect_right(self._event_us, high_us)]

    # -- the player thread --------------------------------------------------
    def _play(self) -> None:
        last = polled = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(TICK_S)  # a seek wakes it at once
            self._wake.clear()
            now = time.monotonic()
            dt, last = now - last, now
            with self._lock:
                requested, self._requested = self._requested, None
            try:
                if self.reader.growing and now - polled >= self._poll_s:
                    polled = now
                    self.reader.refresh()
                if requested is not None:
                    self._seek(requested)
                elif self.playing and self.position < len(self.reader) - 1:
                    self._advance(dt)
                elif self.playing and not self.reader.growing:  # a growing session: wait for more
                    self.playing = False
                self.feed.poll_spans()  # spans taken since the last poll, at most every half second
            except InputError as error:  # a damaged file: say so on screen, stay up, stop playing
                self._errors.append(str(error))
                self.playing = False

    def _seek(self, index: int) -> None:
        window = int(self.feed.hz * 120)
        rows = self.reader.rows(index - window + 1, index + 1)
        self.feed.reset()
        ts = self.reader.ts_us[index]
        self.feed.add(None, self.events_between(None, ts))
        for row in rows:
            self.feed.add(row)
        self._spans_to(ts)
        self.feed.poll_spans(force=True)
        self.position = index
        self._play_at = self.reader.elapsed[index]

    def _advance(self, dt: float) -> None:
        speed = self.speed
        if speed is None:
            stop = min(len(self.reader), self.position + 1 + MAX_ROWS_PER_TICK)
            self._play_at = self.reader.elapsed[stop - 1]
        else:
            self._play_at += dt * speed  # keeps the part of a step shorter than a sample
            stop = self.reader.index_at(self._play_at) + 1
        if stop <= self.position + 1:
            return
        first = max(self.position + 1, stop - MAX_ROWS_PER_TICK)
        high_us = self.reader.ts_us[stop - 1]
        self.feed.add(None, self.events_between(self.reader.ts_us[self.position], high_us))
        for row in self.reader.rows(first, stop):
            self.feed.add(row)
        self._spans_to(high_us)
        self.position = stop - 1

    def _spans_to(self, ts_us: int) -> None:
        if self.spans.advance_to(ts_us):
            self.feed.watch_spans(self.spans.tracker)


def _gpus(meta: dict[str, Any]) -> list[tuple[int, str]]:
    """(index, name) of each GPU meta.json lists with an integer index (a damaged entry is left out)."""
    gpus = found if isinstance(found := meta.get("gpus"), list) else []
    return [(g["index"], name if isinstance(name := g.get("name"), str) else "") for g in gpus
            if isinstance(g, dict) and isinstance(g.get("index"), int) and not isinstance(g.get("index"), bool)]


def _with_gpm(meta: dict[str, Any]) -> set[int]:
    """Indices of the GPUs meta.json says had GPM (their panels get the SM row)."""
    gpus = found if isinstance(found := meta.get("gpus"), list) else []
    return {g["index"] for g in gpus if isinstance(g, dict) and g.get("gpm") is True and isinstance(g.get("index"), int)}


def _event_us(event: dict[str, Any]) -> int:
    try:
        return us_from_iso(event["ts"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return 0


class SessionDirectory:
    """The sessions under one directory, for `o` in a dashboard (tui.source.SessionOpener)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def list(self) -> list[dict[str, Any]]:
        """The catalog, with the sessions that cannot open marked corrupt and why (a footer read each)."""
        rows = catalog(self.root)
        for row in rows:
            if row.get("status") != "corrupt":
                problem = check_session(Path(row["path"]))
                if problem:
                    row.update(status="corrupt", error=problem)
        return rows

    def open(self, session: Path) -> ReplaySource:
        return ReplaySource(session)
