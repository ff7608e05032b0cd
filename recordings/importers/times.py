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


@dataclass
class TimeOptions:
    """How naive and ambiguous times are read; what was decided is noted for the output and meta."""

    tz: str | None = None  # the zone of naive times; None: this machine's
    date_order: str | None = None  # "dmy" or "mdy" forces the order of day-first/month-first dates
    notes: list[str] = field(default_factory=list)
    naive: bool = False  # a naive time was read (so the zone mattered)
    decided_order: str | None = None

    @property
    def zone(self) -> str:
        return self.tz or local_zone()


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


def _steps(moments: pl.Series) -> tuple[bool, int]:
    """Whether the times are in order, and their largest step (µs)."""
    diffs = moments.drop_nulls().dt.epoch("us").diff().drop_nulls()
    if not diffs.len():
        return True, 0
    return bool((diffs >= 0).all()), int(diffs.abs().max())  # type: ignore[arg-type]


def _day_order(bare: pl.Series, source: Path, options: TimeOptions) -> pl.Series | None:
    """Day-first or month-first dates: the forced order, or the one under which the rows are in order
    with the steadiest steps; None when the file has no such dates."""
    readings = {order: _coalesce(bare, _order_formats(order)) for order in ORDERS}
    if options.date_order:
        return readings[options.date_order]
    counts = {order: reading.is_not_null().sum() for order, reading in readings.items()}
    if not any(counts.values()):
        return None
    dmy, mdy = readings["dmy"], readings["mdy"]
    if counts["dmy"] != counts["mdy"]:
        order = max(counts, key=counts.__getitem__)
    elif (dmy == mdy).fill_null(True).all():
        return dmy  # day and month are the same wherever both read
    else:
        (dmy_sorted, dmy_step), (mdy_sorted, mdy_step) = _steps(dmy), _steps(mdy)
        if dmy_sorted != mdy_sorted:
            order = "dmy" if dmy_sorted else "mdy"
        elif dmy_sorted and dmy_step != mdy_step:
            order = "dmy" if dmy_step < mdy_step else "mdy"
        else:
            example = bare.filter(dmy.is_not_null())[0]
            raise InputError(f"{source}: dates like {example!r} can be day-first or month-first and the file does "
                             "not tell which: give --date-order dmy or --date-order mdy")
    options.decided_order = order
    options.notes.append(f"dates read {'day' if order == 'dmy' else 'month'} first ({order}; --date-order to change)")
    return readings[order]


def parse_times(text: pl.Series, source: Path, options: TimeOptions) -> pl.Series:
    """`text` as datetime[µs, UTC]; null where unreadable."""
    text = text.cast(pl.String).str.strip_chars()
    epoch = text.str.contains(_EPOCH).fill_null(False)
    offset = text.str.extract(_OFFSET)
    bare = pl.select(pl.when(offset.is_null()).then(text).otherwise(text.str.replace(r"\s*(Z|[+-]\d{2}:?\d{2})$", ""))
                     ).to_series()
    naive = _coalesce(bare, _YMD)
    other = _day_order(bare.filter(naive.is_null() & ~epoch), source, options)
    if other is not None:
        fill = pl.Series(values=[None] * text.len(), dtype=naive.dtype)
        fill = fill.scatter((naive.is_null() & ~epoch).arg_true(), other)
        naive = pl.select(pl.coalesce(naive, fill)).to_series()
    sign = pl.when(offset.str.starts_with("-")).then(-1).otherwise(1)
    digits = offset.str.replace_all(r"[^0-9]", "")
    minutes = pl.select(sign * (digits.str.slice(0, 2).cast(pl.Int64, strict=False) * 60
                                + digits.str.slice(2, 2).cast(pl.Int64, strict=False))).to_series().fill_null(0)
    zoned = pl.select(pl.lit(naive) - pl.duration(minutes=pl.lit(minutes))).to_series().dt.replace_time_zone("UTC")
    local_rows = offset.is_null() & naive.is_not_null()
    if local_rows.any():
        options.naive = True
    local = naive.dt.replace_time_zone(options.zone, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")
    from_epoch = _epoch_us(text).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    result = pl.select(pl.when(pl.lit(epoch)).then(pl.lit(from_epoch))
                       .when(pl.lit(offset.is_not_null())).then(pl.lit(zoned))
                       .otherwise(pl.lit(local))).to_series()
    return result.cast(UTC_US).alias(text.name)
