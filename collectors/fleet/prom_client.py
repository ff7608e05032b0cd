"""Reads the fleet from a Prometheus-compatible HTTP API (Prometheus, Thanos, Mimir, VictoriaMetrics).

`PrometheusFleet.refresh()` runs the few grouped queries of `promql` (counted in
`queries`), the targets list where the server has one (scrape intervals, why a target
is down), and assembles one `NodeReading` per node.  A failed query is one error line;
the queries that answered still fill the table.
"""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any

from collectors.fleet import promql
from collectors.fleet.assemble import Assembler
from collectors.fleet.http import Auth, FetchError, get, where
from collectors.fleet.model import FleetModel, NodeReading, build
from collectors.fleet.table import TEXT_FIELDS

MAX_ANSWER = 512 * 2**20  # an answer's size; the gauges of 1,000 nodes of 8 GPUs are some 10 MiB
INFO = "PromQL info:"  # an annotation Prometheus 2.4x sent among its warnings: no doubt about the answer
QUERY_ONLY = (400, 404, 422)  # statuses that concern one request; any other failure is the server's: stop there
SERVER_GONE = (401, 403, 502, 503, 504)  # statuses of a server no other request would get an answer from
DEFAULT_INTERVAL_S = 15.0  # when neither a targets list (none on Thanos, Mimir) nor the samples say it
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float | None:
    parts = _DURATION.findall(text or "")
    return sum(float(n) * _UNITS[u] for n, u in parts) if parts else None


def _sample(item: Any) -> tuple[dict[str, str], Any] | None:
    """An instant vector's item as (labels, value), or None when it is not of that shape."""
    labels, value = (item.get("metric"), item.get("value")) if isinstance(item, dict) else (None, None)
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        return None
    return (labels, value[1]) if isinstance(value, list) and len(value) == 2 else None


def _number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class PrometheusFleet:
    def __init__(self, url: str, auth: Auth | None = None, timeout_s: float = 5.0, window_s: float = 600.0,
                 job: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.auth = auth
        self.timeout_s = timeout_s
        self.window_s = window_s
        self.job = job
        self.queries = 0  # requests made by the latest refresh
        self.intervals: dict[str, float] = {}  # node: scrape interval, as the latest refresh found it

    def _api(self, path: str, params: dict[str, str] | None = None, warnings: list[str] | None = None) -> Any:
        """The answer's `data`; its warnings (a partial answer: a store unreachable) as lines into `warnings`."""
        self.queries += 1
        url = f"{self.url}/api/v1/{path}"
        body = get(url, self.timeout_s, self.auth, params, MAX_ANSWER)
        try:
            answer = json.loads(body)
        except ValueError:
            raise FetchError(url, "answered something that is not JSON") from None
        if not isinstance(answer, dict) or answer.get("status") != "success":
            error = answer.get("error") if isinstance(answer, dict) else None
            raise FetchError(url, f"answered: {error or 'no success status'}")
        said = answer.get("warnings")
        if isinstance(said, list) and warnings is not None:
            lines = (f"{where(url)} warned: {str(w)[:300]}" for w in said if not str(w).startswith(INFO))
            warnings.extend(line for line in dict.fromkeys(lines) if line not in warnings)
        return answer.get("data")

    def query(self, expr: str, at_s: float, warnings: list[str] | None = None) -> list[tuple[dict[str, str], Any]]:
        """An instant query's samples as (labels, value); FetchError when the answer is of another shape."""
        data = self._api("query", {"query": expr, "time": f"{at_s:.3f}"}, warnings)
        result = data.get("result") if isinstance(data, dict) else None
        samples = [_sample(item) for item in result] if isinstance(result, list) else [None]
        if None in samples:
            raise FetchError(f"{self.url}/api/v1/query", "answered a result that is not an instant vector")
        return samples  # type: ignore[return-value]  # no None left

    def refresh(self) -> FleetModel:
        start, now = time.perf_counter(), time.time()
        self.queries = 0
        errors: list[str] = []
        parts = Assembler()
        covered: set[str] = set()
        samples: dict[str, float] = {}  # node: samples over the window of its least scraped exporter, as `seen`
        warnings: list[str] = []
        if not self._targets(parts, errors):
            return build([], errors, self.queries, time.perf_counter() - start, now, self.window_s)
        targets_failed = bool(errors)
        for expr in (promql.up_query(self.job), promql.gauges_query(), promql.window_query(self.window_s)):
            try:
                series = self.query(expr, now, warnings)
            except FetchError as error:
                if error.status in QUERY_ONLY:
                    errors.append(str(error))
                    continue
                if targets_failed and not parts.nodes:
                    errors.clear()  # the targets list failed as the first query did: the server's, one line
                errors.append(str(error))
                break
            for labels, value in series:
                self._series(parts, labels, value, covered, samples)
        errors.extend(warnings)
        readings = self._chosen(parts, errors)
        for reading in readings:
            if reading.instance not in covered:
                reading.active_max.clear()  # less history than the idle window: "idle for 5 min" is unknown
            count = samples.get(reading.instance)
            # n samples span n - 1 intervals (Prometheus 2 counts both ends of the range, 3 one: longer, never stale)
            reading.interval_s = reading.interval_s or (self.window_s / max(1.0, count - 1) if count else
                                                        DEFAULT_INTERVAL_S)
        self.intervals = {r.instance: r.interval_s for r in readings if r.interval_s}
        return build(readings, errors, self.queries, time.perf_counter() - start, now, self.window_s)

    def _chosen(self, parts: Assembler, errors: list[str]) -> list[NodeReading]:
        """With --job: every target of those jobs.  Without: the nodes that serve a known metric or are down;
        the other targets (Prometheus itself, databases...) are named in one line, not made rows."""
        readings = parts.readings()
        if self.job:
            return [r for r in readings if r.up is not None]  # the up query, filtered by job, saw them
        others = sorted(r.instance for r in readings if r.up and not r.exporters)
        if others:
            shown = ", ".join(others[:3]) + (", …" if len(others) > 3 else "")
            errors.append(f"{len(others)} target(s) up with no rigscope, DCGM or node_exporter metrics left out "
                          f"({shown}); --job chooses the jobs to show")
        return [r for r in readings if not (r.up and not r.exporters)]

    def _targets(self, parts: Assembler, errors: list[str]) -> bool:
        """Scrape intervals and why targets are down; False when the server itself is gone (unreachable,
        unavailable, refusing the credentials): the list is optional, and the slowest part of the API."""
        try:
            data = self._api("targets", {"state": "active"})
        except FetchError as error:
            if error.status == 404:  # no targets list on Thanos or Mimir: intervals come from the samples
                return True
            errors.append(str(error))
            return error.status not in SERVER_GONE and not error.reason.startswith("cannot be reached")
        targets = data.get("activeTargets") if isinstance(data, dict) else None
        if not isinstance(targets, list) or not all(isinstance(t, dict) and isinstance(t.get("labels"), dict)
                                                    for t in targets):
            errors.append(str(FetchError(f"{self.url}/api/v1/targets", "answered a targets list of another shape")))
            return True  # the queries may still answer
        for target in targets:
            labels = target["labels"]
            instance = labels.get("instance")
            if not isinstance(instance, str) or not instance or (
                    self.job and not re.fullmatch(self.job, str(labels.get("job", "")))):
                continue
            interval = parse_duration(str(target.get("scrapeInterval", "")))
            health = target.get("health")
            if health == "down":
                parts.set_up(instance, False, str(target.get("lastError") or "")[:200], interval)
            elif interval:
                parts.node(instance).interval_s = max(parts.node(instance).interval_s or 0.0, interval)
        return True

    def _series(self, parts: Assembler, labels: dict[str, str], value: Any, covered: set[str],
                samples: dict[str, float]) -> None:
        instance = labels.get("instance")
        number = _number(value)
        if not instance or number is None:
            return
        field = labels.get("field")
        if field is None:  # the up query
            parts.set_up(instance, number >= 1)
        elif field == "seen":
            parts.seen(instance, number)
        elif field == "covered":
            covered.add(parts.node(instance).instance)
        elif field == "samples":
            node = parts.node(instance).instance
            samples[node] = min(samples.get(node, number), number)
        elif field.startswith("active_"):
            reading = parts.node(instance)
            gpu = labels.get("gpu", "")
            if field == "active_sm_active" or gpu not in reading.active_max:
                reading.active_max[gpu] = number  # SM activity, where known, decides over utilization
        elif field in TEXT_FIELDS:
            parts.add(instance, labels.get("exporter", ""), field, labels.get("gpu"), labels.get("value"))
        else:
            parts.add(instance, labels.get("exporter", ""), field, labels.get("gpu"), number)

    def history(self, node: str, width: int, field: str = "util") -> dict[str, list[float | None]]:
        """The node's GPUs over the window, `width` points each (step = window / width)."""
        step = max(1.0, self.window_s / max(1, width))
        span = max(step, 2 * self.intervals.get(node, DEFAULT_INTERVAL_S))
        end = time.time()
        data = self._api("query_range", {"query": promql.history_query(promql.instances_regex(node), span, field),
                                         "start": f"{end - self.window_s:.3f}", "end": f"{end:.3f}",
                                         "step": f"{step:g}"})
        out: dict[str, list[float | None]] = {}
        for series in (data or {}).get("result") or []:
            gpu = (series.get("metric") or {}).get("gpu", "")
            if gpu in out:
                continue
            points: dict[int, float | None] = {round((float(t) - end + self.window_s) / step): _number(v)
                                               for t, v in series.get("values") or []}
            out[gpu] = [points.get(i) for i in range(width)]
        return out

