"""Replay as a source: publishes a recorded session's frames and events on a frame stream, as the sampler does.

A screen subscribes to `stream` exactly as to a live session's (`SCREEN`); a
seek publishes `RESET` before it refills the screen.  The spans that ended as
the position passed them, and the process rows of the slow tick it reached
(once a tick), are published on the stream too (`Batch.spans`,
`Batch.processes`), as the live span assembler and process tier tell theirs;
after a seek, behind the window's frames, every span that had ended by then and
the process rows of the tick at the position.  The stream is lossless: the
player waits for its screen.

A player thread moves the position at the chosen speed and reads rows from
disk as it goes; seeks are requested by the UI and carried out by that thread
(the UI never waits on the disk).  After a seek the screen is refilled with the
window before the new position, and the events up to it (custom metrics
among them).  For a session still being recorded the same thread looks for
new segments every `poll_s` seconds, and the session grows under the player.
Nothing here knows the TUI.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from pathlib import Path
from typing import Any

from collectors.event_kinds import EventKind
from collectors.event_parse import typed_event
from collectors.process_rows import ProcessSnapshot
from collectors.stream import RESET, Batch, FrameStream, StreamPolicy
from collectors.timeutil import iso_from_us
from recordings.errors import InputError
from recordings.events import EVENTS, append_event, skipped_warning
from recordings.processes import PROCESSES_DIR, PROCESSES_PARQUET, ProcessTimeline, read_processes
from recordings.replay import GOTO_FORMS, ReplayReader, parse_goto
from recordings.replay_spans import ReplaySpans
from recordings.session import sample_hz

SPEEDS: tuple[float | None, ...] = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1000.0, None)  # None: max
TICK_S = 0.05
MAX_ROWS_PER_TICK = 2000  # at high speed only the last rows of a step reach the sparklines
POLL_S = 2.0  # how often a session still being recorded is looked at for new segments
WINDOW_S = 120.0  # how much before the position a seek publishes
_FOREVER_US = 2**63 - 1


def check_at(at: str | None) -> None:
    """InputError when `at` (`rigscope replay --at`) is not a time, whatever the session."""
    try:
        if at:
            parse_goto(at, 0.0, iso_from_us(0))
    except ValueError:
        raise InputError(f"--at {at}: not a time; {GOTO_FORMS}") from None


class ReplayPlayer:
    """A recorded session played onto `stream`; `start` it once its sinks have subscribed."""

    def __init__(self, session: Path, speed: float | None = 1.0, at: str | None = None,
                 poll_s: float = POLL_S) -> None:
        """`at`: where to start, as `g` reads it at the start (`rigscope replay --at`); InputError when it is
        not a time, `started_past_end` when it lay past the end."""
        self.reader = ReplayReader(session)
        self.hz = sample_hz(self.reader.meta) or 10.0
        self.stream = FrameStream(StreamPolicy(self.hz, lossless=True))
        self._errors: list[str] = []
        try:
            self.spans = ReplaySpans.read(session)
        except InputError as error:  # a damaged span table: the replay goes on without spans
            self.spans = ReplaySpans([], [])
            self._errors.append(f"{error}; spans not shown")
        self.speed_index = SPEEDS.index(speed) if speed in SPEEDS else SPEEDS.index(1.0)
        self.position = 0
        self.playing = True
        self._play_at = self.reader.elapsed[0]  # session time the player has reached, between rows too
        check_at(at)
        start, self.started_past_end = self.reader.goto(at, 0) if at else (0, False)
        self._requested: int | None = start
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        if self.reader.skipped_events:  # once, on screen: stderr is under the dashboard
            self._errors.append(skipped_warning(session / EVENTS, self.reader.skipped_events))
        self._errors.extend(self.reader.journal_warnings)
        self._poll_s = poll_s
        self._process_timeline = self._open_processes(session)
        self._process_tick: int | None = None  # the tick whose rows were published last
        self._thread = threading.Thread(target=self._play, name="rigscope-replay", daemon=True)

    def start(self) -> None:
        """Play onto the stream."""
        self._thread.start()

    # -- what a dashboard asks ----------------------------------------------
    @property
    def speed(self) -> float | None:
        return SPEEDS[self.speed_index]

    def now_iso(self) -> str:
        return iso_from_us(self.reader.ts_us[self.position])

    def post(self, kind: str, ts: str, **fields: Any) -> None:
        """A note written while replaying goes into the session's events.jsonl, at the replay time; InputError
        when it cannot be written there (a full disk, a read-only mount, another user's session), or is over the
        limits any sender's is held to."""
        try:
            event = {"ts": ts, "kind": kind, **typed_event(kind, fields)}
        except ValueError as error:
            raise InputError(str(error)) from None
        if kind == EventKind.NOTE:
            event["source"] = "replay"
        path = self.reader.session / EVENTS
        try:
            append_event(path, event)
        except OSError as error:
            raise InputError(f"{kind} not saved: {path}: {error.strerror or error}") from None
        with self._lock:  # from now on it is part of the session: seeks, jumps and the timeline see it
            self.reader.add_event(event)
        self.stream.publish(Batch(None, (event,)))

    def _open_processes(self, session: Path) -> ProcessTimeline | None:
        if not (session / PROCESSES_PARQUET).exists() and not (session / PROCESSES_DIR).is_dir():
            return None  # recorded without a process tier (an older session, or no GPU)
        try:
            return ProcessTimeline(read_processes(session))
        except InputError as error:
            self._errors.append(f"process rows not shown: {error}")
            return None

    @property
    def has_processes(self) -> bool:
        """Whether the session recorded process rows (a process tier ran)."""
        return self._process_timeline is not None

    def notices(self) -> list[str]:
        errors, self._errors = self._errors, []
        return errors

    def close(self) -> str:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self.stream.close()
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

        An event is at the first row at or after its moment: a collapse at its onset (`start`, as the events
        pane and the report place it; it is detected 7 s or more later), anything else at its time.  Events
        between two rows are reached too, and a second jump moves past the one the position is on.
        """
        here = self._target()
        with self._lock:
            rows = sorted(self._event_row(event, us) for event, us in zip(self.reader.events, self.reader.event_us)
                          if event.get("kind") in kinds)
        further = [row for row in rows if row > here] if forward else [row for row in rows if row < here]
        if not further:  # (an event after the last row is on it: nothing further)
            return False
        self.seek_index(further[0] if forward else further[-1])
        return True

    def _event_row(self, event: dict[str, Any], event_us: int) -> int:
        onset = event.get("start") if event.get("kind") == EventKind.COLLAPSE_START else None
        if isinstance(onset, (int, float)) and math.isfinite(onset):  # seconds of the session's elapsed time
            return min(len(self.reader) - 1, bisect.bisect_left(self.reader.elapsed, onset))
        return self.reader.index_from_ts(event_us)

    def events_between(self, low_us: int | None, high_us: int) -> list[dict[str, Any]]:
        """The events with low_us < ts <= high_us (from the start when low_us is None), in time order."""
        with self._lock:
            return self.reader.events_between(low_us, high_us)

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
                    self._take_new_events()
                if requested is not None:
                    self._seek(requested)
                elif self.playing and self.position < len(self.reader) - 1:
                    self._advance(dt)
                elif self.playing and not self.reader.growing:  # a growing session: wait for more
                    self.playing = False
            except InputError as error:  # a damaged file: say so on screen, stay up, stop playing
                self._errors.append(str(error))
                self.playing = False

    def _take_new_events(self) -> None:
        """The events the recorder wrote since they were read: shown as the position passes them."""
        events = self.reader.new_events()
        if events is not None:
            with self._lock:
                self.reader.events, self.reader.event_us = events

    def _seek(self, index: int) -> None:
        window = int(self.hz * WINDOW_S)
        rows = self.reader.rows(index - window + 1, index + 1)
        publish = self.stream.publish
        publish(RESET)
        ts = self.reader.ts_us[index]
        self._publish_events(self.events_between(None, self._until(index)))
        for row in rows:
            publish(Batch(row))
        self._publish_spans(None, self._until(index))  # after the frames: many spans take the screen a while to count
        self._process_tick = None
        self._publish_processes(ts)
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
        low_us, high_us = self.reader.ts_us[self.position], self._until(stop - 1)
        publish = self.stream.publish
        self._publish_events(self.events_between(low_us, high_us))
        for row in self.reader.rows(first, stop):
            publish(Batch(row))
        self._publish_spans(low_us, high_us)
        self._publish_processes(self.reader.ts_us[stop - 1])
        self.position = stop - 1

    def _until(self, index: int) -> int:
        """Up to when events and spans show at row `index`: its time, or for the last row of a session no longer
        growing, for ever (what was flushed after the last sample a crash kept is shown there, where jumps lead)."""
        return _FOREVER_US if index == len(self.reader) - 1 and not self.reader.growing else self.reader.ts_us[index]

    def _publish_events(self, events: list[dict[str, Any]]) -> None:
        if events:
            self.stream.publish(Batch(None, tuple(events)))

    def _publish_spans(self, low_us: int | None, high_us: int) -> None:
        rows = self.spans.between(low_us, high_us)
        if rows:
            self.stream.publish(Batch(None, spans=rows))

    def _publish_processes(self, ts_us: int) -> None:
        """The rows of the last slow tick at or before `ts_us`, when it is not the one published last."""
        timeline = self._process_timeline
        if timeline is None:
            return
        tick = timeline.tick_at(ts_us)
        if tick is None or tick == self._process_tick:
            return  # before the first tick a screen shows none, as after a RESET
        self._process_tick = tick
        self.stream.publish(Batch(None, processes=ProcessSnapshot(tick + 1, timeline.ticks[tick],
                                                                   tuple(timeline.rows_of(tick)))))
