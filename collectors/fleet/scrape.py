"""Reads the fleet by scraping each node's `/metrics` page directly, in parallel, with a timeout.

Without a Prometheus server the client keeps what the server would: a short history
per target (counters for increases and rates over the window, GPU utilization for the
sparklines and the idle test).  Lines of names no adapter knows are skipped; a page with
no known name at all is an unknown exporter, and says which names it has.  A series keeps
its labels from one scrape to the next, so `prometheus_client`'s parser reads each
distinct `name{labels}` once (its label parser was 80 % of a refresh of 256 pages) and
later scrapes only read the value.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from collectors.fleet.assemble import Assembler, node_of
from collectors.fleet.exporters import BY_METRIC
from collectors.fleet.http import FetchError, get, where
from collectors.fleet.model import IDLE_WINDOW_S, FleetModel, build
from collectors.fleet.promql import ACTIVITY
from collectors.values import finite

UNKNOWN_SHOWN = 3  # names listed for an exporter nobody knows
MAX_SERIES = 500_000  # parsed series kept; label values are bounded upstream, this only stops a runaway cache
_series: dict[str, tuple[str, dict[str, str]]] = {}  # `name{labels}` → (name, labels); dict get/set are atomic


def target_url(target: str) -> str:
    """`host:port` → `http://host:port/metrics`; a path or a scheme given is kept (`/metrics` where none)."""
    target = target.strip()
    url = target if "://" in target else f"http://{target}"
    return url if url.rstrip("/").count("/") > 2 else url.rstrip("/") + "/metrics"


def instance_of(target: str) -> str:
    """The target as its row names it: `host:port`, a URL's path too where it is not `/metrics`, never the
    URL's credentials (`https://u:p@gpu01:9400/metrics` is `gpu01:9400`, so node `gpu01`)."""
    return where(target_url(target)).removesuffix("/metrics").rstrip("/")


def parse_targets(text: str) -> list[str]:
    """`host:port` entries separated by commas, spaces or lines; `#` starts a comment."""
    out: list[str] = []
    for line in text.splitlines():
        for item in line.split("#", 1)[0].replace(",", " ").split():
            if item not in out:
                out.append(item)
    return out


def known_lines(page: str) -> tuple[list[str], list[str]]:
    """The sample lines of names an adapter knows, and the first few names it does not."""
    keep: list[str] = []
    unknown: list[str] = []
    for line in page.splitlines():
        if not line or line[0] == "#":
            continue
        end = len(line)
        for mark in "{ ":
            at = line.find(mark)
            if at != -1 and at < end:
                end = at
        name = line[:end]
        if name in BY_METRIC:
            keep.append(line)
        elif len(unknown) < UNKNOWN_SHOWN and name not in unknown:
            unknown.append(name)
    return keep, unknown


def parse_line(line: str) -> tuple[str, dict[str, str], float]:
    """One sample line: name, labels (parsed once per distinct series) and value; ValueError when broken."""
    end = line.rfind("}") + 1 or line.find(" ")
    series, rest = line[:end], line[end:].split()
    if not rest or end <= 0:
        raise ValueError(f"no value in {line[:80]!r}")
    parsed = _series.get(series)
    if parsed is None:
        families = list(text_string_to_metric_families(series + " 0\n"))
        if len(families) != 1 or len(families[0].samples) != 1:
            raise ValueError(f"not one sample: {line[:80]!r}")
        sample = families[0].samples[0]
        parsed = (sample.name, dict(sample.labels))
        if len(_series) > MAX_SERIES:
            _series.clear()
        _series[series] = parsed
    return parsed[0], parsed[1], float(rest[0])


@dataclass
class Point:
    """What one good scrape of one target left for the next ones."""

    t: float
    counters: dict[tuple[str, str, str | None], float]  # (exporter, field, gpu): the sum of its series
    idle: dict[str, tuple[float, int]]  # exporter: (idle seconds of all CPUs, CPU count)
    util: dict[str, float] = field(default_factory=dict)  # per GPU, for the sparklines
    activity: dict[str, float] = field(default_factory=dict)  # per GPU: SM activity where known, else util


class ScrapeFleet:
    def __init__(self, targets: Iterable[str], timeout_s: float = 3.0, window_s: float = 600.0,
                 interval_s: float = 5.0, workers: int = 32, clock: Callable[[], float] = time.time,
                 fetch: Callable[[str, float], bytes] | None = None) -> None:
        self.targets = list(targets)
        self.timeout_s, self.window_s, self.interval_s = timeout_s, window_s, interval_s
        self.clock = clock
        self._fetch = fetch or (lambda url, timeout: get(url, timeout))
        self.workers = max(1, min(workers, len(self.targets)))
        self._closed = threading.Event()
        self._history: dict[str, deque[Point]] = {t: deque() for t in self.targets}
        self._lock = threading.Lock()  # the screen reads a node's history while a refresh appends
        self.queries = 0

    def close(self) -> None:
        """A refresh under way starts no more scrapes (those in flight end with their timeout, unwaited for)."""
        self._closed.set()

    def _scrape_all(self) -> list[tuple[str, str | None, str | None]]:
        """Every target's page, `workers` at a time, in daemon threads: a target that hangs never holds the
        process's exit back (a ThreadPoolExecutor's threads are joined as the interpreter exits)."""
        pages: list[tuple[str, str | None, str | None]] = [(t, None, "not scraped: closing") for t in self.targets]
        jobs, lock = iter(enumerate(self.targets)), threading.Lock()

        def work() -> None:
            while not self._closed.is_set():
                with lock:
                    job = next(jobs, None)
                if job is None:
                    return
                pages[job[0]] = self._scrape(job[1])

        threads = [threading.Thread(target=work, name="rigscope-fleet", daemon=True) for _ in range(self.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return pages

    def _scrape(self, target: str) -> tuple[str, str | None, str | None]:
        try:
            return target, self._fetch(target_url(target), self.timeout_s).decode("utf-8", "replace"), None
        except FetchError as error:
            return target, None, error.reason

    def refresh(self) -> FleetModel:
        start = time.perf_counter()
        pages = self._scrape_all()
        now = self.clock()
        self.queries = len(pages)
        parts = Assembler()
        errors: list[str] = []
        for target, page, error in pages:
            instance = instance_of(target)
            parts.node(instance).interval_s = self.interval_s
            if page is None:
                with self._lock:
                    self._history[target].clear()  # a node back after a gap starts its increases afresh
                parts.set_up(instance, False, error)
                continue
            try:
                self._read(parts, target, instance, page, now)
            except ValueError as bad:  # a page the parser refuses: that node only
                parts.set_up(instance, False, f"unreadable /metrics page ({str(bad)[:120]})")
        return build(parts.readings(), errors, self.queries, time.perf_counter() - start, now, self.window_s)

    def _read(self, parts: Assembler, target: str, instance: str, page: str, now: float) -> None:
        lines, unknown = known_lines(page)
        point = Point(now, {}, {})
        for name, labels, value in map(parse_line, lines):
            if finite(value) is None:  # NaN, ±inf: not measured (counters and idle seconds included)
                continue
            for exporter, entry in BY_METRIC.get(name, ()):
                if any(labels.get(k) != v for k, v in entry.match.items()):
                    continue
                gpu = labels.get("gpu", "") if entry.per_gpu else None
                if entry.kind == "gauge":
                    parts.add(instance, exporter.name, entry.field, gpu, value * entry.scale)
                elif entry.kind == "state":
                    if value == 1:
                        parts.add(instance, exporter.name, entry.field, None, labels.get(entry.label))
                elif entry.kind == "name":
                    parts.add(instance, exporter.name, entry.field, gpu, labels.get(entry.label))
                elif entry.kind == "counter":
                    key = (exporter.name, entry.field, gpu)
                    point.counters[key] = point.counters.get(key, 0.0) + value * entry.scale
                else:  # idle seconds per CPU
                    total, cpus = point.idle.get(exporter.name, (0.0, 0))
                    point.idle[exporter.name] = (total + value, cpus + 1)
        reading = parts.node(instance)
        parts.set_up(instance, True)
        parts.seen(instance, now)
        if not reading.exporters and unknown:
            reading.unknown = tuple(unknown)
        for gpu, values in reading.gpus.items():
            if values.get("util") is not None:
                point.util[gpu] = values["util"]
            activity = next((values[f] for f in ACTIVITY if values.get(f) is not None), None)
            if activity is not None:
                point.activity[gpu] = activity
        history = self._history[target]
        with self._lock:
            history.append(point)
            while len(history) > 2 and history[1].t <= now - max(self.window_s, IDLE_WINDOW_S):
                history.popleft()
        self._derive(parts, instance, history, now)

    def _derive(self, parts: Assembler, instance: str, history: deque[Point], now: float) -> None:
        """Increases over the window, CPU from the last two scrapes, the highest activity over the idle window."""
        latest = history[-1]
        first = next((p for p in history if p.t >= now - self.window_s), latest)
        for (exporter, name, gpu), value in latest.counters.items():
            before = first.counters.get((exporter, name, gpu))
            if before is not None and first is not latest:
                parts.add(instance, exporter, name, gpu, value - before if value >= before else value)
        if len(history) > 1:
            previous = history[-2]
            for exporter, (idle, cpus) in latest.idle.items():
                was = previous.idle.get(exporter)
                elapsed = latest.t - previous.t
                if was and cpus and elapsed > 0 and idle >= was[0]:
                    parts.add(instance, exporter, "cpu_util", None, max(0.0, 1.0 - (idle - was[0]) / elapsed / cpus))
        if history[0].t <= now - IDLE_WINDOW_S:  # the history covers the idle window: the test can be made
            recent = [p for p in history if p.t >= now - IDLE_WINDOW_S]
            reading = parts.node(instance)
            for gpu in latest.activity:
                reading.active_max[gpu] = max(p.activity.get(gpu, 1.0) for p in recent)

    def history(self, node: str, width: int, field: str = "util") -> dict[str, list[float | None]]:
        """The node's GPUs from the scrapes kept (`width` latest points) of its target that has them."""
        with self._lock:
            kept = [list(self._history[t])[-width:] for t in self.targets if node_of(instance_of(t)) == node]
        points = next((p for p in kept if any(point.util for point in p)), [])
        gpus = sorted({g for p in points for g in p.util}, key=lambda g: (len(g), g))
        return {g: [p.util.get(g) for p in points] for g in gpus}
