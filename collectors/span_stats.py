"""Statistics of finished spans: the one place their totals, averages and percentiles are computed.

`SpanStatistics` takes finished span rows (the columns of SESSION_FORMAT § Spans,
as `collectors.spans.SpanTracker` assembles them live or as a span table holds
them) and keeps, overall and per span name and level (top level or nested,
that is with a parent):

- counts and successes;
- sums for the means of `summary.spans` (duration, rtf, tokens/s, peak memory, energy);
- the shortest and longest duration and the highest peak memory;
- durations for percentiles (exact up to a bound, then a uniform reservoir);
- a duration histogram (`SPAN_BUCKETS`) for Prometheus.

The dashboard, `/metrics`, `/metrics/summary`, `/metrics/export`, `meta.json`
(`summary.spans`), repaired and imported sessions and replay all read it, so a
figure has one definition.  A mean over a column counts only the rows where that
column is a number; a span without a duration counts in `total` but not in the
duration figures.  Memory stays bounded however many spans and names come.
"""

from __future__ import annotations

import random
import threading
from array import array
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

EXACT_DURATIONS = 100_000  # durations kept exactly; beyond, a uniform reservoir of this size
NAME_DURATIONS = 10_000  # the same, per span name and level
MAX_NAMES = 100  # span names counted apart; the rest are counted under OTHER_NAME
OTHER_NAME = "(other names)"
# Upper bounds (seconds) of the span duration histogram; +Inf is implied.
SPAN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
QUANTILES = (50, 95, 99)
# Means of `summary.spans`: (account field, row column).
MEANS = (("rtf", "rtf"), ("tps", "tokens_per_second"), ("mem", "peak_memory_mb"), ("energy", "energy_j"))


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return float(value)


@dataclass(frozen=True)
class SpanStats:
    """Finished spans of one name (or all names), frozen: counts, duration figures and the means' sums."""

    name: str
    count: int = 0
    successful: int = 0
    bucket_counts: tuple[int, ...] = (0,) * len(SPAN_BUCKETS)  # per bucket, not cumulative
    timed: int = 0  # spans with a known duration
    duration_sum: float = 0.0
    duration_min: float | None = None
    duration_max: float | None = None
    rtf_sum: float = 0.0
    rtf_n: int = 0
    peak_memory_sum_mb: float = 0.0
    peak_memory_n: int = 0
    peak_memory_max_mb: float | None = None
    tokens_per_second_sum: float = 0.0
    tokens_per_second_n: int = 0
    energy_sum_j: float = 0.0
    energy_n: int = 0

    @property
    def failed(self) -> int:
        return self.count - self.successful

    def cumulative_buckets(self) -> list[tuple[float, int]]:
        """(upper bound, count of timed spans at or below it), +Inf last."""
        out, running = [], 0
        for bound, count in zip(SPAN_BUCKETS, self.bucket_counts):
            running += count
            out.append((bound, running))
        out.append((float("inf"), self.timed))
        return out

    def figures(self) -> dict[str, Any]:
        """Counts and means as `summary.spans` names them (a mean is null while nothing counts)."""
        return {
            "total": self.count,
            "successful": self.successful,
            "failed": self.failed,
            "success_rate": self.successful / self.count if self.count else None,
            "avg_duration_s": _mean(self.duration_sum, self.timed),
            "avg_rtf": _mean(self.rtf_sum, self.rtf_n),
            "avg_tokens_per_sec": _mean(self.tokens_per_second_sum, self.tokens_per_second_n),
            "avg_peak_memory_mb": _mean(self.peak_memory_sum_mb, self.peak_memory_n),
        }


def _mean(total: float, count: int) -> float | None:
    return total / count if count else None


def _lowest(current: float | None, value: float) -> float:
    return value if current is None or value < current else current


def _highest(current: float | None, value: float) -> float:
    return value if current is None or value > current else current


class _Account:
    """The running figures of one name and level (or of all spans); owned under the statistics' lock."""

    __slots__ = ("name", "limit", "count", "successful", "buckets", "timed", "duration_sum", "duration_min",
                 "duration_max", "sums", "counts", "mem_max", "durations", "ordered")

    def __init__(self, name: str, limit: int) -> None:
        self.name, self.limit = name, limit
        self.count = self.successful = self.timed = 0
        self.buckets = [0] * len(SPAN_BUCKETS)
        self.duration_sum = 0.0
        self.duration_min: float | None = None
        self.duration_max: float | None = None
        self.sums = dict.fromkeys((key for key, _ in MEANS), 0.0)
        self.counts = dict.fromkeys((key for key, _ in MEANS), 0)
        self.mem_max: float | None = None
        self.durations = array("d")
        self.ordered: list[float] | None = None

    def add(self, row: Mapping[str, Any], success: bool, duration: float | None, chance: random.Random) -> None:
        self.count += 1
        self.successful += success
        if duration is not None:
            self.timed += 1
            self.duration_sum += duration
            self.duration_min = _lowest(self.duration_min, duration)
            self.duration_max = _highest(self.duration_max, duration)
            for i, bound in enumerate(SPAN_BUCKETS):
                if duration <= bound:
                    self.buckets[i] += 1
                    break
            self._keep(duration, chance)
        for key, column in MEANS:
            value = _num(row.get(column))
            if value is not None:
                self.sums[key] += value
                self.counts[key] += 1
                if key == "mem":
                    self.mem_max = _highest(self.mem_max, value)

    def _keep(self, duration: float, chance: random.Random) -> None:
        """Keep `duration` (the `timed`-th) exactly up to `limit`, then in a uniform reservoir (Algorithm R)."""
        if len(self.durations) < self.limit:
            self.durations.append(duration)
        else:
            slot = chance.randrange(self.timed)
            if slot < self.limit:
                self.durations[slot] = duration
        self.ordered = None

    def quantiles(self) -> dict[str, float | None]:
        if self.ordered is None:
            self.ordered = sorted(self.durations)
        return {f"p{q}": percentile(self.ordered, q) for q in QUANTILES}

    def frozen(self) -> SpanStats:
        sums, counts = self.sums, self.counts
        return SpanStats(self.name, self.count, self.successful, tuple(self.buckets), self.timed, self.duration_sum,
                         self.duration_min, self.duration_max, sums["rtf"], counts["rtf"], sums["mem"], counts["mem"],
                         self.mem_max, sums["tps"], counts["tps"], sums["energy"], counts["energy"])


def merged(name: str, parts: Sequence[SpanStats]) -> SpanStats:
    """The figures of several accounts taken together (a name's top-level and nested spans)."""
    def extreme(values: list[float | None], pick: Any) -> float | None:
        present = [v for v in values if v is not None]
        return pick(present) if present else None

    return SpanStats(
        name, sum(p.count for p in parts), sum(p.successful for p in parts),
        tuple(sum(counts) for counts in zip(*(p.bucket_counts for p in parts))), sum(p.timed for p in parts),
        sum(p.duration_sum for p in parts), extreme([p.duration_min for p in parts], min),
        extreme([p.duration_max for p in parts], max), sum(p.rtf_sum for p in parts), sum(p.rtf_n for p in parts),
        sum(p.peak_memory_sum_mb for p in parts), sum(p.peak_memory_n for p in parts),
        extreme([p.peak_memory_max_mb for p in parts], max), sum(p.tokens_per_second_sum for p in parts),
        sum(p.tokens_per_second_n for p in parts), sum(p.energy_sum_j for p in parts), sum(p.energy_n for p in parts))


@dataclass(frozen=True)
class SpanFigures:
    """What a reader of the statistics takes at once: all spans, per name (levels merged), open and given up."""

    totals: SpanStats = SpanStats("")
    names: tuple[SpanStats, ...] = ()
    open: int = 0
    abandoned: int = 0


class SpanStatistics:
    """Finished spans' figures, overall and per name and level, and the latest rows; thread-safe."""

    def __init__(self, recent: int = 500, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._all = _Account("", EXACT_DURATIONS)
        self._by_name: dict[tuple[str, bool], _Account] = {}  # (name, nested) -> its account
        self._recent: deque[dict[str, Any]] = deque(maxlen=recent)
        self._frozen: SpanFigures | None = None
        self.open = 0  # spans started and not ended (the assembler sets it)
        self.abandoned = 0  # open spans given up (the assembler sets it)

    @property
    def total(self) -> int:
        return self._all.count

    def add(self, row: dict[str, Any]) -> None:
        """Count one finished span's row (kept among the recent ones as it is)."""
        success = bool(row.get("success"))
        duration = _num(row.get("total_duration_s"))
        if duration is not None and duration < 0:
            duration = None
        level = (str(row.get("name")), row.get("parent_id") is not None)
        with self._lock:
            self._all.add(row, success, duration, self._random)
            account = self._by_name.get(level)
            if account is None:
                if len(self._by_name) >= MAX_NAMES:
                    level = (OTHER_NAME, level[1])
                account = self._by_name.get(level)
                if account is None:
                    account = self._by_name[level] = _Account(level[0], NAME_DURATIONS)
            account.add(row, success, duration, self._random)
            self._recent.append(row)
            self._frozen = None

    # -- reading --------------------------------------------------------------------------
    def recent(self, n: int = 20) -> list[dict[str, Any]]:
        """The last `n` finished spans, newest first."""
        with self._lock:
            return [dict(row) for row in list(self._recent)[-n:][::-1]] if n > 0 else []

    def percentiles(self) -> dict[str, float | None]:
        """p50, p95 and p99 of the finished spans' durations (s): exact up to 100,000 spans, then
        estimated from a uniform reservoir of 100,000."""
        with self._lock:
            return self._all.quantiles()

    def summary(self) -> dict[str, Any]:
        """`summary.spans` of the session format, plus percentiles, energy and open/abandoned counts."""
        with self._lock:
            totals = self._all.frozen()
            quantiles = self._all.quantiles()
        return {
            **totals.figures(),
            **{f"{q}_duration_s": value for q, value in quantiles.items()},
            "total_energy_j": totals.energy_sum_j if totals.energy_n else None,
            "open": self.open,
            "abandoned": self.abandoned,
        }

    def by_name(self) -> list[dict[str, Any]]:
        """Per span name and level: top-level spans first, then nested ones (those with a parent),
        each most frequent first, with count, failures and duration percentiles (s)."""
        rows = []
        with self._lock:
            for (name, nested), account in self._by_name.items():
                rows.append({"name": name, "nested": nested, "total": account.count,
                             "failed": account.count - account.successful,
                             **{f"{q}_duration_s": value for q, value in account.quantiles().items()}})
        return sorted(rows, key=lambda row: (row["nested"], -row["total"], row["name"]))

    def per_name(self) -> list[dict[str, Any]]:
        """Per span name, its top-level and nested spans together (the report's table), most frequent first:
        the figures of `summary.spans`, the mean energy and duration percentiles (exact up to 10,000 spans
        of a name at each level)."""
        rows = []
        with self._lock:
            for name, accounts in self._levels().items():
                totals = merged(name, [account.frozen() for account in accounts])
                ordered = sorted(d for account in accounts for d in account.durations)
                rows.append({"name": name, **totals.figures(), "avg_energy_j": _mean(totals.energy_sum_j, totals.energy_n),
                             **{f"p{q}_duration_s": percentile(ordered, q) for q in QUANTILES}})
        return sorted(rows, key=lambda row: (-row["total"], row["name"]))

    def _levels(self) -> dict[str, list[_Account]]:
        grouped: dict[str, list[_Account]] = {}
        for (name, _), account in self._by_name.items():
            grouped.setdefault(name, []).append(account)
        return grouped

    def figures(self) -> SpanFigures:
        """All spans and each name (its levels merged), frozen; the same object until a span is added."""
        frozen = self._frozen
        if frozen is not None and frozen.open == self.open and frozen.abandoned == self.abandoned:
            return frozen
        with self._lock:
            names = tuple(merged(name, [account.frozen() for account in accounts])
                          for name, accounts in self._levels().items())
            frozen = self._frozen = SpanFigures(self._all.frozen(), names, self.open, self.abandoned)
        return frozen


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile, as numpy's default."""
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
