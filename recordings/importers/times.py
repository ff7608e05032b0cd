"""Times in imported files, read to UTC: epoch seconds or milliseconds, ISO 8601 with any offset,
`YYYY/MM/DD`, dmon's `YYYYMMDD`, and day-first or month-first dates.

A time without an offset is local time of the machine that wrote the file: `TimeOptions.tz`
(default: this machine's zone). Whether `03-11-2026` is the 3rd of November or the 11th of March
is decided from the file: the reading under which the rows are in order with the steadiest steps;
`TimeOptions.date_order` overrides, and a file that cannot decide is refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import polars as pl

from recordings.errors import InputError
from recordings.frames import UTC_US

_CLOCK = ("%H:%M:%S%.f", "%H:%M:%S", "%H:%M")
_YMD = tuple(f"%Y{s}%m{s}%d{t}{c}" for s in "-/" for t in ("T", " ") for c in _CLOCK) + ("%Y%m%d %H:%M:%S",)
ORDERS = {"dmy": "%d{s}%m{s}%Y", "mdy": "%m{s}%d{s}%Y"}
_OFFSET = r"(?:\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|[+-]\d{2}:?\d{2})$"
_EPOCH = r"^\d{9,}(?:\.\d+)?$"
EPOCH_MS_FROM = 10**11  # larger epoch values are milliseconds (10**11 s is the year 5138)


def local_zone() -> str:
    """This machine's IANA zone name: $TZ, else /etc/localtime's target, else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name and name in available_timezones():
        return name
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:
        return "UTC"
    _, found, key = target.partition("zoneinfo/")
    return key if found and key in available_timezones() else "UTC"


def zone(name: str) -> str:
    """`name` checked as an IANA zone (`Europe/Berlin`, `UTC`); bad usage otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"--tz {name!r} is not a time zone (e.g. UTC, Europe/Berlin, Asia/Shanghai)") from None
    return name


class DayOrderVote:
    """Evidence, gathered piece by piece, for reading dates like 03-11-2026 day first or month first:
    how many read under each order, whether they then stay in order, and their largest step."""

    def __init__(self) -> None:
        self.count = dict.fromkeys(ORDERS, 0)
        self.ordered = dict.fromkeys(ORDERS, True)
        self.step = dict.fromkeys(ORDERS, 0)
        self.last: dict[str, int | None] = dict.fromkeys(ORDERS)
        self.differ = False  # some date reads differently under the two orders
        self.example: str | None = None

    def add(self, bare: pl.Series) -> None:
        """Dates without an offset that neither the epoch nor a year-first format reads."""
        readings = {order: _coalesce(bare, _order_formats(order)) for order in ORDERS}
        self.differ = self.differ or not (readings["dmy"] == readings["mdy"]).fill_null(True).all()
        for order, reading in readings.items():
            moments = reading.drop_nulls().dt.epoch("us")
            if not moments.len():
                continue
            if self.example is None:
                self.example = bare.filter(reading.is_not_null())[0]
            previous = self.last[order]
            diffs = (moments if previous is None else pl.concat([pl.Series([previous]), moments])).diff().drop_nulls()
            self.count[order] += moments.len()
            self.ordered[order] = self.ordered[order] and bool((diffs >= 0).all())
            self.step[order] = max(self.step[order], int(diffs.abs().max() or 0))  # type: ignore[arg-type]
            self.last[order] = int(moments[-1])

    def decide(self, source: Path) -> str | None:
        """The order the evidence says (None: no such dates, or both orders read them alike)."""
        count, ordered, step = self.count, self.ordered, self.step
        if not any(count.values()) or (count["dmy"] == count["mdy"] and not self.differ):
            return None
        if count["dmy"] != count["mdy"]:
            return max(count, key=count.__getitem__)
        if ordered["dmy"] != ordered["mdy"]:
            return "dmy" if ordered["dmy"] else "mdy"
        if ordered["dmy"] and step["dmy"] != step["mdy"]:
            return "dmy" if step["dmy"] < step["mdy"] else "mdy"
        raise InputError(f"{source}: dates like {self.example!r} can be day-first or month-first and the file does "
                         "not tell which: give --date-order dmy or --date-order mdy")


@dataclass
class TimeOptions:
    """How naive and ambiguous times are read; what was decided is noted for the output and meta.

    A reader that goes through a file in pieces shows every piece's times to `survey` first and calls
    `settle` before parsing, so that the whole file decides the day order."""

    tz: str | None = None  # the zone of naive times; None: this machine's
    date_order: str | None = None  # "dmy" or "mdy" forces the order of day-first/month-first dates
    notes: list[str] = field(default_factory=list)
    naive: bool = False  # a naive time was read (so the zone mattered)
    decided_order: str | None = None
    settled: bool = False
    vote: DayOrderVote = field(default_factory=DayOrderVote)

    @property
    def zone(self) -> str:
        return self.tz or local_zone()

    def fresh(self) -> TimeOptions:
        """The same choices, nothing read or decided yet (one per file)."""
        return TimeOptions(tz=self.tz, date_order=self.date_order)

    def survey(self, text: pl.Series) -> None:
        if not self.date_order:
            self.vote.add(_undated(text))

    def settle(self, source: Path) -> None:
        if self.settled or self.date_order:
            return
        self.settled = True
        self.decided_order = self.vote.decide(source)
        if self.decided_order:
            first = "day" if self.decided_order == "dmy" else "month"
            self.notes.append(f"dates read {first} first ({self.decided_order}; --date-order to change)")

    @property
    def order(self) -> str:
        return self.date_order or self.decided_order or "dmy"  # dmy when both orders read the file alike


def _coalesce(text: pl.Series, formats: tuple[str, ...] | list[str]) -> pl.Series:
    parsed = [text.str.to_datetime(fmt, time_unit="us", strict=False, exact=True) for fmt in formats]
    return pl.select(pl.coalesce(parsed)).to_series()


def _order_formats(order: str) -> list[str]:
    dates = [ORDERS[order].format(s=s) for s in "-/."]
    return [f"{d} {c}" for d in dates for c in _CLOCK] + [f"{d}T{c}" for d in dates for c in _CLOCK]


def _epoch_us(text: pl.Series) -> pl.Series:
    whole = text.str.extract(r"^(\d+)").cast(pl.Int64, strict=False)
    fraction = text.str.extract(r"\.(\d+)$").fill_null("").str.pad_end(9, "0").str.slice(0, 9).cast(pl.Int64)
    nanos = pl.select(pl.when(whole >= EPOCH_MS_FROM).then(whole * 1_000_000 + fraction // 1000)
                      .otherwise(whole * 1_000_000_000 + fraction)).to_series()
    return nanos // 1000


def _split(text: pl.Series) -> tuple[pl.Series, pl.Series, pl.Series, pl.Series]:
    """Stripped text, whether it is epoch, its offset (or null), and the text without the offset."""
    text = text.cast(pl.String).str.strip_chars()
    epoch = text.str.contains(_EPOCH).fill_null(False)
    offset = text.str.extract(_OFFSET)
    bare = pl.select(pl.when(offset.is_null()).then(text).otherwise(text.str.replace(r"\s*(Z|[+-]\d{2}:?\d{2})$", ""))
                     ).to_series()
    return text, epoch, offset, bare


def _undated(text: pl.Series) -> pl.Series:
    """The times (offset removed) that only a day-first or month-first format can read."""
    _, epoch, _, bare = _split(text)
    return bare.filter(_coalesce(bare, _YMD).is_null() & ~epoch)


def _local_to_utc(naive: pl.Series, zone: str, after: int | None) -> pl.Series:
    """Wall-clock times of `zone` as UTC. A time the autumn clock change shows twice is the first of the two
    unless that is before the row above it (`after`: the instant, µs, of the row before the first), then the
    second: a log written across the change keeps its order."""
    first, second = (naive.dt.replace_time_zone(zone, ambiguous=which, non_existent="null").dt.convert_time_zone("UTC")
                      for which in ("earliest", "latest"))
    if not (first != second).any():
        return first
    chosen = []
    for early, late in zip(first.dt.epoch("us").to_list(), second.dt.epoch("us").to_list()):
        moment = late if early is not None and after is not None and early < after else early
        chosen.append(moment)
        after = moment if moment is not None else after
    return pl.Series(first.name, chosen, pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def parse_times(text: pl.Series, source: Path, options: TimeOptions, after: int | None = None) -> pl.Series:
    """`text` as datetime[µs, UTC]; null where unreadable. `after` is the instant (µs) of the row before
    `text` in a file read in pieces."""
    name = text.name
    text, epoch, offset, bare = _split(text)
    naive = _coalesce(bare, _YMD)
    dated = naive.is_null() & ~epoch
    if dated.any():
        if not options.settled:
            options.survey(text)
            options.settle(source)
        fill = pl.Series(values=[None] * text.len(), dtype=naive.dtype)
        fill = fill.scatter(dated.arg_true(), _coalesce(bare.filter(dated), _order_formats(options.order)))
        naive = pl.select(pl.coalesce(naive, fill)).to_series()
    sign = pl.when(offset.str.starts_with("-")).then(-1).otherwise(1)
    digits = offset.str.replace_all(r"[^0-9]", "")
    minutes = pl.select(sign * (digits.str.slice(0, 2).cast(pl.Int64, strict=False) * 60
                                + digits.str.slice(2, 2).cast(pl.Int64, strict=False))).to_series().fill_null(0)
    zoned = pl.select(pl.lit(naive) - pl.duration(minutes=pl.lit(minutes))).to_series().dt.replace_time_zone("UTC")
    if (offset.is_null() & naive.is_not_null()).any():
        options.naive = True
    local = _local_to_utc(naive, options.zone, after)
    from_epoch = _epoch_us(text).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    result = pl.select(pl.when(pl.lit(epoch)).then(pl.lit(from_epoch))
                       .when(pl.lit(offset.is_not_null())).then(pl.lit(zoned))
                       .otherwise(pl.lit(local))).to_series()
    return result.cast(UTC_US).alias(name)
