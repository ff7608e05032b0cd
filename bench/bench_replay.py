"""Replay of a long session: time to first frame, seek latency, memory, and playback at x1000.

The session is a simulated 24 hours at 10 Hz with one GPU (864,000 rows), recorded once with
`rigscope record --source sim --speed max --hz 10 --duration 24h` into
`bench/results/replay-24h-10hz/` (git-ignored; about 1.5 minutes) and reused while it is there and
complete.  Everything is measured in this process, on `tui.replay_source.ReplaySource`, the
object `rigscope replay` drives (no terminal needed); the page cache is warm (the file was just
written or read).

- first frame: from constructing `ReplaySource` until its feed holds a frame (it opens a
  `ReplayReader`, then the player's first seek reads the 120 s window before the start).  The
  first open in the process is reported on its own, then the median and max of further opens
  (after the other measures); also one fresh `python` process, imports included, to first frame.
- open: `ReplayReader(session)` alone (reads the time axis: elapsed_s, ts, workload_state), timed
  after the other measures (first, then median of further opens).
- seek: 20 random targets (seeded), player paused: from `seek_index(target)` until
  `source.position == target` and the feed's frame is that row (polled every 0.5 ms).  The player
  applies seeks on its 50 ms tick, so up to 50 ms of each seek is waiting for the tick; the disk
  read of the 120 s window (`ReplayReader.rows`) is timed on its own too, and the player's own
  seek (`ReplaySource._seek`: the read and the refill of the feed) is timed by wrapping it, which
  splits each latency into waiting for the tick and the work.  Every landed frame is
  checked against the row read straight from the Parquet file.
- RSS (psutil) of this process before opening (imports done), after opening, after the seeks and
  after playback; and the size of the reader's time axis (three Python lists) on its own.
- playback: x1000 for 20 s from the start of the session: every 0.25 s, where it should be
  (start + wall × 1000) minus where it is, in session seconds, every 0.1 s.  It keeps up when the
  lag does not grow: the achieved rate (least-squares slope of the position over wall time, after
  the first 2 s) is at least 99 % of x1000.  x1 for 3 s is measured the
  same way (a few rows are expected to go by).

- 100,000 events: the same samples (linked) with 100,000 notes spread evenly over the 24 h in
  its events.jsonl: first frame, 5 seeks, x1000 for 10 s, and what one player step at x1000
  (50 s of session, ~58 events) costs to find its events: the bisection the player does now
  against the scan over every event it did before (the same list, the old expression), median of 200.

Targets: first frame < 1 s, seek < 100 ms (p95), RSS < 300 MB, x1000 keeps up.

Run: python bench/bench_replay.py [--quick]   (--quick: a 1-hour session, 5 seeks, 5 s of playback)
Prints a table and writes bench/results/replay.json.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from common import RESULTS, ROOT, median, percentile, print_table, rigscope_command, verdict, write_result  # noqa: I001

MB = 1024 * 1024
TARGET_FIRST_FRAME_S = 1.0
TARGET_SEEK_MS = 100.0
TARGET_RSS_MB = 300.0
KEEP_UP_FRACTION = 0.99
POLL_S = 0.0005

FRESH_PROCESS = """
import json, sys, time
start = time.perf_counter()
from pathlib import Path
from tui.replay_source import ReplaySource
imported = time.perf_counter()
source = ReplaySource(Path(sys.argv[1]))
while not source.feed.snapshot(0, ()).frame:
    time.sleep(0.0005)
done = time.perf_counter()
source.close()
print(json.dumps({"imports_s": imported - start, "first_frame_s": done - imported, "total_s": done - start}))
"""


# -- the session -------------------------------------------------------------------
def ensure_session(hours: float, hz: float) -> tuple[Path, float | None]:
    """The cached session (recorded now if absent or incomplete) and the seconds recording took (None: cached)."""
    from recordings.session import list_sessions, read_meta

    root = RESULTS / f"replay-{hours:g}h-{hz:g}hz"
    expected = round(hours * 3600 * hz)
    sessions = list_sessions(root)
    if sessions:
        meta = read_meta(sessions[-1])
        if meta.get("status") == "complete" and meta.get("total_samples") == expected:
            return sessions[-1], None
        shutil.rmtree(root)
    print(f"recording a simulated {hours:g} h at {hz:g} Hz into {root.relative_to(ROOT)} (once; a minute or two) ...",
          flush=True)
    start = time.perf_counter()
    command = rigscope_command("record", "--source", "sim", "--speed", "max", "--hz", f"{hz:g}",
                               "--duration", f"{hours * 3600:g}s", "--gpus-sim", "1", "--dir", str(root))
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"recording failed: {done.stderr.strip()}")
    return list_sessions(root)[-1], time.perf_counter() - start


# -- measures ------------------------------------------------------------------------
def rss_mb() -> float:
    return psutil.Process().memory_info().rss / MB


def shown(source: Any) -> dict[str, Any]:
    return source.feed.snapshot(0, ()).frame


def wait_first_frame(source: Any) -> None:
    while not shown(source):
        time.sleep(POLL_S)


def time_reader(session: Path) -> float:
    """Seconds to open a ReplayReader (the time axis)."""
    from recordings.replay import ReplayReader

    start = time.perf_counter()
    ReplayReader(session)
    return time.perf_counter() - start


def open_source(session: Path) -> tuple[float, Any]:
    """Seconds from constructing a ReplaySource to its first frame; the source (left open, paused)."""
    from tui.replay_source import ReplaySource

    start = time.perf_counter()
    source = ReplaySource(session)
    wait_first_frame(source)
    first_frame_s = time.perf_counter() - start
    source.toggle_play()
    return first_frame_s, source


def fresh_process(session: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", FRESH_PROCESS, str(session)], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def seeks(source: Any, count: int, seed: int = 1) -> dict[str, Any]:
    import polars as pl

    reader = source.reader
    rng = random.Random(seed)
    window = int(source.feed.hz * 120)
    targets = [rng.randrange(len(reader)) for _ in range(count)]
    latencies, reads, checked = [], [], 0
    applied: list[tuple[float, float]] = []  # (start, end) of each seek the player carried out
    original = source._seek

    def timed_seek(*args: Any) -> None:  # the player's own seek, timed: read + publishing the refill
        begin = time.perf_counter()
        original(*args)
        applied.append((begin, time.perf_counter()))

    source._seek = timed_seek
    scan = pl.scan_parquet(reader.session / "samples.parquet")
    waits, work = [], []
    for target in targets:
        start, done = time.perf_counter(), len(applied)
        source.seek_index(target)
        # The position is set once the refill is published; the feed's thread shows its last row after.
        while source.position != target or len(applied) == done or shown(source).get("ts") != reader.ts_us[target]:
            time.sleep(POLL_S)
        latencies.append(time.perf_counter() - start)
        begin, end = applied[-1]
        waits.append(begin - start)  # until the player's next tick picked the request up
        work.append(end - begin)
        if shown(source).get("ts") != reader.ts_us[target]:
            sys.exit(f"seek to {target}: the position moved but the feed shows another row")
        expected = scan.slice(target, 1).with_columns(pl.col("ts").dt.epoch("us")).collect().to_dicts()[0]
        frame = shown(source)
        if all(frame[k] == v or (v != v and frame[k] != frame[k]) for k, v in expected.items()):
            checked += 1
        start = time.perf_counter()
        reader.rows(target - window + 1, target + 1)
        reads.append(time.perf_counter() - start)
    source._seek = original
    ms = [s * 1000 for s in latencies]
    return {"targets": targets, "latency_ms": ms, "read_ms": [s * 1000 for s in reads],
            "latency_median_ms": median(ms), "latency_p95_ms": percentile(ms, 95), "latency_max_ms": max(ms),
            "read_median_ms": median([s * 1000 for s in reads]), "frames_equal_to_file": checked,
            "tick_wait_ms": [s * 1000 for s in waits], "seek_work_ms": [s * 1000 for s in work],
            "tick_wait_median_ms": median([s * 1000 for s in waits]), "tick_wait_max_ms": max(waits) * 1000,
            "seek_work_median_ms": median([s * 1000 for s in work]), "seek_work_max_ms": max(work) * 1000}


def slope(xs: list[float], ys: list[float]) -> float:
    if len(xs) < 2:
        return 0.0
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def axis_bytes(reader: Any) -> int:
    """Python memory of the reader's time axis (the three lists and the objects in them, each object once)."""
    seen: set[int] = set()
    total = 0
    for values in (reader.elapsed, reader.ts_us, reader.states):
        total += sys.getsizeof(values)
        for value in values:
            if id(value) not in seen:
                seen.add(id(value))
                total += sys.getsizeof(value)
    return total


def play(source: Any, speed: float, seconds: float, start_index: int = 0) -> dict[str, Any]:
    """Play from `start_index` at `speed` for `seconds`; lag (session s) sampled every 0.25 s."""
    from recordings.replay_player import SPEEDS

    reader = source.reader
    source.playing = False
    source.seek_index(start_index)
    while source.position != start_index:
        time.sleep(POLL_S)
    source.speed_index = SPEEDS.index(speed)
    cpu_before = psutil.Process().cpu_times()
    origin = reader.elapsed[start_index]
    start = time.perf_counter()
    source.toggle_play()
    samples: list[tuple[float, float, float]] = []  # wall s, expected session s, actual session s
    while (now := time.perf_counter() - start) < seconds:
        time.sleep(0.1)
        now = time.perf_counter() - start
        expected = min(reader.elapsed[-1], origin + now * speed) - origin
        samples.append((now, expected, reader.elapsed[source.position] - origin))
    source.toggle_play()
    cpu_after = psutil.Process().cpu_times()
    wall = time.perf_counter() - start
    lags = [e - a for _, e, a in samples]
    settle = min(2.0, seconds / 5)
    steady = [s for s in samples if s[0] >= settle]
    rate = slope([w for w, _, _ in steady], [a for _, _, a in steady])  # least squares: session s per wall s
    return {
        "speed": speed, "wall_s": wall, "session_s_played": samples[-1][2],
        "lag_s": [round(x, 3) for x in lags], "lag_first_s": lags[0], "lag_end_s": lags[-1], "lag_max_s": max(lags),
        "lag_growth_s": (speed - rate) * (steady[-1][0] - steady[0][0]),
        "achieved_rate": rate, "rate_fraction": rate / speed,
        "cpu_pct": 100 * (sum(cpu_after[:2]) - sum(cpu_before[:2])) / wall,
    }


def many_events_session(session: Path, count: int) -> Path:
    """A session with the samples of `session` (a link) and `count` notes spread evenly in its events.jsonl."""
    from collectors.timeutil import iso_from_us
    from recordings.replay import ReplayReader

    target = RESULTS / f"replay-{count}-events" / session.name
    if target.exists():
        shutil.rmtree(target.parent)
    target.mkdir(parents=True)
    (target / "samples.parquet").symlink_to((session / "samples.parquet").resolve())
    shutil.copy(session / "meta.json", target / "meta.json")
    ts = ReplayReader(session).ts_us
    step = (ts[-1] - ts[0]) // count
    with open(target / "events.jsonl", "w", encoding="utf-8") as handle:
        for k in range(count):
            handle.write(json.dumps({"ts": iso_from_us(ts[0] + k * step), "kind": "note", "text": f"n{k}",
                                     "source": "cli"}) + "\n")
    return target


def event_lookup(source: Any, span_s: float = 50.0, repeats: int = 200) -> dict[str, float]:
    """µs to find the events of one player step: bisection (now) and the full scan (before)."""
    reader, rng = source.reader, random.Random(2)
    cursor, scan = [], []
    for _ in range(repeats):
        low = reader.ts_us[rng.randrange(len(reader) // 2)]
        high = low + int(span_s * 1e6)
        start = time.perf_counter()
        found = source.events_between(low, high)
        cursor.append(time.perf_counter() - start)
        start = time.perf_counter()
        old = [e for e, us in zip(reader.events, reader.event_us) if low < us <= high]
        scan.append(time.perf_counter() - start)
        assert old == found
    return {"cursor_us": median(cursor) * 1e6, "scan_us": median(scan) * 1e6, "events_found": len(found)}


def with_many_events(session: Path, count: int, play_s: float) -> dict[str, Any]:
    noted = many_events_session(session, count)
    first_s, source = open_source(noted)
    try:
        return {"events": len(source.reader.events), "first_frame_s": first_s, "seek": seeks(source, 5, seed=3),
                "playback_x1000": play(source, 1000.0, play_s), "lookup": event_lookup(source), "rss_mb": rss_mb()}
    finally:
        source.close()


# -- main -----------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 1-hour session, 5 seeks, 5 s of playback (smoke test)")
    parser.add_argument("--opens", type=int, default=5, help="further opens timed after the first (default 5)")
    options = parser.parse_args()
    hours, hz = (1.0, 10.0) if options.quick else (24.0, 10.0)
    seek_count, play_s = (5, 5.0) if options.quick else (20, 20.0)

    session, recorded_s = ensure_session(hours, hz)
    parquet_mb = (session / "samples.parquet").stat().st_size / MB
    import polars  # noqa: F401  (imports before the baseline RSS)

    import tui.replay_source  # noqa: F401

    rss_before = rss_mb()
    first_s, source = open_source(session)
    rows = len(source.reader)
    rss_open = rss_mb()
    axis_mb = axis_bytes(source.reader) / MB
    seek = seeks(source, seek_count)
    rss_seeks = rss_mb()
    play_s = min(play_s, 0.8 * source.reader.duration_s / 1000)  # never reach the end (the quick session)
    fast = play(source, 1000.0, play_s)
    slow = play(source, 1.0, 3.0, start_index=rows // 2)
    rss_play = rss_mb()
    source.close()
    del source

    reader_times = [time_reader(session) for _ in range(options.opens + 1)]
    reader_s, reader_more = reader_times[0], reader_times[1:]
    first_more = []
    for _ in range(options.opens):
        seconds, extra = open_source(session)
        extra.close()
        first_more.append(seconds)
    fresh = fresh_process(session)
    events = with_many_events(session, 100_000, min(10.0, play_s))

    first_ok = max([first_s, *first_more]) < TARGET_FIRST_FRAME_S
    seek_ok = seek["latency_p95_ms"] < TARGET_SEEK_MS
    rss_ok = max(rss_open, rss_seeks, rss_play) < TARGET_RSS_MB
    keep_ok = fast["rate_fraction"] >= KEEP_UP_FRACTION
    print_table(["measure", "figure", "target"], [
        ["ReplayReader open, first / median of more", f"{reader_s * 1000:.0f} / {median(reader_more) * 1000:.0f} ms", ""],
        ["first frame, first / median / max of more",
         f"{first_s * 1000:.0f} / {median(first_more) * 1000:.0f} / {max(first_more) * 1000:.0f} ms",
         f"< {TARGET_FIRST_FRAME_S:g} s {verdict(first_ok)}"],
        ["first frame in a fresh process (imports + open)",
         f"{fresh['imports_s'] * 1000:.0f} + {fresh['first_frame_s'] * 1000:.0f} ms", ""],
        [f"seek ({seek_count} random), median / p95 / max",
         f"{seek['latency_median_ms']:.0f} / {seek['latency_p95_ms']:.0f} / {seek['latency_max_ms']:.0f} ms",
         f"< {TARGET_SEEK_MS:g} ms {verdict(seek_ok)}"],
        ["  of it: waiting for the player's tick, median / max",
         f"{seek['tick_wait_median_ms']:.0f} / {seek['tick_wait_max_ms']:.0f} ms", ""],
        ["  of it: the player's seek (read + refill), median / max",
         f"{seek['seek_work_median_ms']:.0f} / {seek['seek_work_max_ms']:.0f} ms", ""],
        ["  reading the 120 s window alone, median", f"{seek['read_median_ms']:.0f} ms", ""],
        ["  landed frames equal to the file", f"{seek['frames_equal_to_file']} / {seek_count}", ""],
        ["RSS before open / after open / seeks / playback",
         f"{rss_before:.0f} / {rss_open:.0f} / {rss_seeks:.0f} / {rss_play:.0f} MB",
         f"< {TARGET_RSS_MB:g} MB {verdict(rss_ok)}"],
        ["  of it: the time axis as Python lists", f"{axis_mb:.0f} MB ({axis_mb * MB / rows:.0f} bytes a row)", ""],
        [f"x1000 for {play_s:.3g} s: achieved rate", f"x{fast['achieved_rate']:.0f} ({fast['rate_fraction']:.1%})",
         f"≥ {KEEP_UP_FRACTION:.0%} {verdict(keep_ok)}"],
        ["  lag at first poll / end / max", f"{fast['lag_first_s']:.1f} / {fast['lag_end_s']:.1f} / "
                                            f"{fast['lag_max_s']:.1f} s of session", ""],
        ["  lag growth (fit, after the first 2 s)", f"{fast['lag_growth_s']:+.1f} s of session", ""],
        ["  process CPU while playing", f"{fast['cpu_pct']:.0f} % of a core", ""],
        ["x1 for 3 s: session seconds played", f"{slow['session_s_played']:.1f} s (rate x{slow['achieved_rate']:.2f})",
         "≈ 3 s"],
        [f"{events['events']:,} events: first frame / seek p95", f"{events['first_frame_s'] * 1000:.0f} / "
                                                                   f"{events['seek']['latency_p95_ms']:.0f} ms", ""],
        ["  x1000 achieved rate / CPU", f"{events['playback_x1000']['rate_fraction']:.1%} / "
                                        f"{events['playback_x1000']['cpu_pct']:.0f} % of a core", ""],
        ["  events of one x1000 step: bisection / full scan (before)",
         f"{events['lookup']['cursor_us']:.0f} / {events['lookup']['scan_us']:.0f} µs "
         f"(x{events['lookup']['scan_us'] / max(events['lookup']['cursor_us'], 1e-9):.0f})", ""],
    ], title=f"replay of a {hours:g} h session at {hz:g} Hz: {rows:,} rows, {parquet_mb:.0f} MB Parquet"
              + (f" (recorded in {recorded_s:.0f} s)" if recorded_s else " (cached)"))

    write_result("replay", {
        "quick": options.quick,
        "session": {"hours": hours, "hz": hz, "rows": rows, "parquet_mb": parquet_mb, "recorded_in_s": recorded_s},
        "open": {"reader_first_s": reader_s, "reader_more_s": reader_more, "first_frame_first_s": first_s,
                 "first_frame_more_s": first_more, "fresh_process": fresh},
        "seek": seek,
        "rss_mb": {"before_open": rss_before, "after_open": rss_open, "after_seeks": rss_seeks,
                   "after_playback": rss_play, "axis_lists": axis_mb},
        "playback_x1000": fast,
        "playback_x1": slow,
        "many_events": events,
        "targets": {"first_frame_s": TARGET_FIRST_FRAME_S, "seek_p95_ms": TARGET_SEEK_MS, "rss_mb": TARGET_RSS_MB,
                    "keep_up_fraction": KEEP_UP_FRACTION},
        "pass": {"first_frame": first_ok, "seek": seek_ok, "rss": rss_ok, "keeps_up": keep_ok},
    })


if __name__ == "__main__":
    main()
