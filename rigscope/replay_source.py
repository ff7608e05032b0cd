"""The dashboard's replay source: plays a recorded session into the same feed the live screen reads.

A player thread moves the position at the chosen speed and reads rows from
disk as it goes; seeks are requested by the UI and carried out by that thread
(the UI never waits on the disk).  After a seek the feed is refilled with the
window before the new position, and the events up to it (custom metrics
among them); the spans pane gets the spans that had ended by the position.
"""

from __future__ import annotations

import bisect
import threading
import time
from pathlib import Path
from typing import Any

from collectors.process_tier import ProcessSnapshot
from collectors.timeutil import iso_from_us, us_from_iso
from recordings.errors import InputError
from recordings.events import EVENTS, append_event
from recordings.processes import PROCESSES_DIR, PROCESSES_PARQUET, ProcessTimeline, read_processes
from recordings.replay import ReplayReader
from recordings.replay_spans import ReplaySpans
from tui.bars import SessionLabel
from tui.devices import Device, feed_columns
from tui.feed import DashboardFeed

SPEEDS: tuple[float | None, ...] = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1000.0, None)  # None: max
TICK_S = 0.05
MAX_ROWS_PER_TICK = 2000  # at high speed only the last rows of a step reach the sparklines


def speed_label(speed: float | None) -> str:
    return "max" if speed is None else f"x{speed:g}"


class ReplaySource:
    def __init__(self, session: Path, speed: float | None = 1.0, at_s: float | None = None) -> None:
        self.reader = ReplayReader(session)
        meta = self.reader.meta
        host = meta.get("host") if isinstance(meta.get("host"), dict) else {}
        self.label = SessionLabel(str(host.get("hostname", "?")), str(host.get("hardware_tier", "")),
                                  session.name, "REPLAY")
        self.devices = [Device("cpu", f"CPU {host.get('cpu_model') or ''}".strip())] + [
            Device(f"gpu{g['index']}", f"GPU{g['index']} {(g.get('name') or '').replace('NVIDIA ', '')}".strip())
            for g in meta.get("gpus") or []]
        monitoring = meta.get("monitoring") if isinstance(meta.get("monitoring"), dict) else {}
        rate = monitoring.get("sample_hz")
        hz = float(rate) if isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate > 0 else 10.0
        self.feed = DashboardFeed(None, feed_columns(self.devices), hz)
        self._errors: list[str] = []
        try:
            self.spans = ReplaySpans.read(session)
        except InputError as error:  # a damaged span table: the replay goes on without spans
            self.spans = ReplaySpans([], [])
            self._errors.append(f"{error}; spans not shown")
        self.feed.watch_spans(self.spans.tracker)
        self._event_us = [_event_us(e) for e in self.reader.events]
        self.speed_index = SPEEDS.index(speed) if speed in SPEEDS else SPEEDS.index(1.0)
        self.position = 0
        self.playing = True
        self._play_at = self.reader.elapsed[0]  # session time the player has reached, between rows too
        self._requested: int | None = self.reader.index_at(at_s) if at_s is not None else 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
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
        if kind == "note":
            event["source"] = "replay"
        append_event(self.reader.session / EVENTS, event)
        with self._lock:  # from now on it is part of the session: seeks, jumps and the timeline see it
            at = bisect.bisect_right(self._event_us, _event_us(event))
            self._event_us.insert(at, _event_us(event))
            self.reader.events.insert(at, event)
        self.feed.add(None, [event])

    def _open_processes(self, session: Path) -> ProcessTimeline | None:
        if not (session / PROCESSES_PARQUET).is_file() and not (session / PROCESSES_DIR).is_dir():
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
        found = self._process_timeline.at(self.reader.ts_us[self.position])
        version = 0 if found is None else found[0] + 1
        if self._process_shown is None or self._process_shown.version != version:
            rows = () if found is None else tuple(found[1])
            ts = None if found is None else self._process_timeline.ticks[found[0]]
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
        with self._lock:
            rows = [self.reader.index_from_ts(us) for us, e in zip(self._event_us, self.reader.events)
                    if e.get("kind") in kinds]
        chosen = min((r for r in rows if r > here), default=None) if forward else \
            max((r for r in rows if r < here), default=None)
        if chosen is None:
            return False
        self.seek_index(chosen)
        return True

    # -- the player thread --------------------------------------------------
    def _play(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(TICK_S)  # a seek wakes it at once
            self._wake.clear()
            now = time.monotonic()
            dt, last = now - last, now
            with self._lock:
                requested, self._requested = self._requested, None
            try:
                if requested is not None:
                    self._seek(requested)
                elif self.playing and self.position < len(self.reader) - 1:
                    self._advance(dt)
                elif self.playing:
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
        with self._lock:
            events = [e for e, us in zip(self.reader.events, self._event_us) if us <= ts]
        self.feed.add(None, events)
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
        low_us, high_us = self.reader.ts_us[self.position], self.reader.ts_us[stop - 1]
        with self._lock:
            events = [e for e, us in zip(self.reader.events, self._event_us) if low_us < us <= high_us]
        self.feed.add(None, events)
        for row in self.reader.rows(first, stop):
            self.feed.add(row)
        self._spans_to(high_us)
        self.position = stop - 1

    def _spans_to(self, ts_us: int) -> None:
        if self.spans.advance_to(ts_us):
            self.feed.watch_spans(self.spans.tracker)


def _event_us(event: dict[str, Any]) -> int:
    try:
        return us_from_iso(event["ts"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return 0
