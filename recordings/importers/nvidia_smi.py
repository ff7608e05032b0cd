"""`nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]` logs and `nvidia-smi dmon -o DT` output.

Each becomes a session with GPU columns only (the CPU's are null: nothing measured
them). One tick is one round over the GPUs: a query row whose GPU was already seen
starts the next tick, as does one half its GPU's step later into the round than before
(the rows above it in its round were lost); dmon prints one block per interval. GPUs are told apart by
`index`, `pci.bus_id`, `uuid` or `gpu` (see `_Survey.key`). Bracketed placeholders
(`[N/A]`, `[Not Supported]`, `[GPU is lost]`, `[Insufficient Permissions]`, ...) and `-`
are null, the placeholders counted per column; units (`%`, `MiB`, `W`, `MHz`) are
stripped. Rows that do not read are skipped and counted (`Imported.skip`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from collectors.schema import gpu_column
from recordings.errors import InputError
from recordings.importers.table import first_line, text_lines
from recordings.importers.times import TimeOptions, parse_times
from recordings.importers.writer import Imported

T = TypeVar("T")
MIB = 2**20
CHUNK_LINES = 10_000  # rows read at a time
# --query-gpu field -> (session column suffix, scale)
QUERY_FIELDS: dict[str, tuple[str, float]] = {
    "utilization.gpu": ("util_pct", 1), "utilization.memory": ("mem_util_pct", 1),
    "temperature.gpu": ("temp_c", 1), "power.draw": ("power_w", 1), "power.draw.instant": ("power_w", 1),
    "power.limit": ("power_limit_w", 1), "enforced.power.limit": ("power_limit_w", 1),
    "memory.used": ("mem_used_bytes", MIB), "memory.total": ("mem_total_bytes", MIB),
    "clocks.sm": ("clock_sm_mhz", 1), "clocks.current.sm": ("clock_sm_mhz", 1),
    "clocks.mem": ("clock_mem_mhz", 1), "clocks.current.memory": ("clock_mem_mhz", 1),
    "fan.speed": ("fan_pct", 1), "pstate": ("pstate", 1),
    "clocks_throttle_reasons.active": ("throttle_reasons", 1), "clocks_event_reasons.active": ("throttle_reasons", 1),
}
DMON_FIELDS: dict[str, tuple[str, float]] = {
    "pwr": ("power_w", 1), "gtemp": ("temp_c", 1), "sm": ("util_pct", 1), "mem": ("mem_util_pct", 1),
    "mclk": ("clock_mem_mhz", 1), "pclk": ("clock_sm_mhz", 1), "fb": ("mem_used_bytes", MIB),
}
# The unit nvidia-smi writes after a field's values (without `nounits`); another one is no reading of it.
UNITS = {**dict.fromkeys(("utilization.gpu", "utilization.memory", "fan.speed"), "%"),
         **dict.fromkeys(("memory.used", "memory.total"), "MiB"),
         **dict.fromkeys(("power.draw", "power.draw.instant", "power.limit", "enforced.power.limit"), "W"),
         **dict.fromkeys(("clocks.sm", "clocks.current.sm", "clocks.mem", "clocks.current.memory"), "MHz"),
         "temperature.gpu": "C"}
_UNIT = re.compile(r"\s*\[[^\]]*\]$")
_PLACEHOLDER = re.compile(r"^\[[^\]]*\]$|^N/A$|^Not Supported$")  # [N/A], [GPU is lost], [Insufficient Permissions]
_SMI_TIME = re.compile(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}")
# Columns that tell the GPUs of one round apart, in the order they are trusted.
KEYS = ("index", "pci.bus_id", "uuid", "gpu")
INFO_FIELDS = {"name": "name", "pci.bus_id": "pci_bus_id", "uuid": "uuid", "driver_version": "driver_version"}
READ_FIELDS = frozenset({"timestamp", *QUERY_FIELDS, *KEYS, *INFO_FIELDS})  # the query fields an import takes


class BadCell(ValueError):
    """A cell that is neither a number nor a placeholder: its row is skipped."""


def is_dmon(first: str) -> bool:
    words = first.lstrip("#").split()
    return first.startswith("#") and "gpu" in words and any(w in DMON_FIELDS for w in words)


def is_headerless_query(first: str) -> bool:
    return bool(_SMI_TIME.match(first.strip()))


def field_name(text: str) -> str:
    """A --query-gpu field without its unit: `utilization.gpu [%]` -> `utilization.gpu`."""
    return _UNIT.sub("", text.strip())


def is_query_header(header: list[str]) -> bool:
    names = {field_name(h) for h in header}
    return "timestamp" in names and any(n in QUERY_FIELDS for n in names)


def _number(text: str | None, field: str, item: Imported) -> float | None:
    if text is None or text in ("", "-"):
        return None
    if _PLACEHOLDER.match(text):
        item.placeholders[field] = item.placeholders.get(field, 0) + 1
        return None
    if field == "pstate":
        return float(text[1:]) if text[:1] == "P" and text[1:].isdigit() else None
    try:
        if text.lower().startswith("0x"):
            return float(int(text, 16))
        number, *unit = text.split()
        if unit and unit != [UNITS.get(field)]:  # 1.5 GiB is no 1.5 MiB
            raise ValueError(text)
        return float(number)
    except ValueError:
        raise BadCell(field) from None


def _frame(ticks: list[tuple[int, int, dict[str, Any]]], columns: list[str], first_us: int) -> pl.DataFrame:
    """Ticks (time µs, line, values) as wide raw samples with `ts` and `elapsed_s`."""
    stamps = [ts for ts, _, _ in ticks]
    data: dict[str, pl.Series] = {"ts": pl.Series("ts", stamps, pl.Int64).cast(pl.Datetime("us", "UTC")),
                                  "elapsed_s": pl.Series("elapsed_s", [(ts - first_us) / 1e6 for ts in stamps])}
    for column in columns:
        data[column] = pl.Series(column, [values.get(column) for _, _, values in ticks], pl.Float64)
    return pl.DataFrame(data)


class _Ticks:
    """Rows (time, GPU, values) grouped into ticks, one round over the GPUs each, handed out in order:
    a row whose GPU was seen in this round starts the next, and so does one that comes half its GPU's last
    step later into the round than that GPU's row of the round before (its round lacks the rows above it:
    torn, or a GPU lost); a tick before the last one is skipped."""

    def __init__(self, item: Imported, columns: list[str]) -> None:
        self.item, self.columns = item, columns
        self.ticks: list[tuple[int, int, dict[str, Any]]] = []
        self.seen: set[int] = set()
        self.last_of: dict[int, int] = {}  # each GPU's time of its last row
        self.step_of: dict[int, int] = {}  # the step to it from its row before
        self.offset_of: dict[int, int] = {}  # and how far into its round it came
        self.last: int | None = None  # time of the last tick handed out
        self.first: int | None = None

    def add_row(self, ts: int | None, line: int, row: Sequence[str | None], gpu: int,
                wanted: dict[str, tuple[int, str, float]]) -> None:
        """One log row's `wanted` cells (field: cell index, column suffix, scale) as values of GPU `gpu`; a row
        without a readable time or with a cell that is not a number is skipped and counted."""
        if ts is None:
            self.item.skip("an unreadable time", line)
            return
        values: dict[str, float | None] = {}
        try:
            for name, (i, suffix, scale) in wanted.items():
                reading = _number(row[i], name, self.item)
                if values.get(gpu_column(gpu, suffix)) is None:  # of two fields of one quantity, the first read
                    values[gpu_column(gpu, suffix)] = None if reading is None else reading * scale
        except BadCell as bad:
            self.item.skip(f"{bad} not a number", line)
            return
        self.add(ts, line, gpu, values)

    def rest(self, path: Path) -> Iterator[pl.DataFrame]:
        """The last ticks once the file is read; no tick at all is a refusal."""
        if (frame := self.take(everything=True)) is not None:
            yield frame
        elif self.first is None:
            raise InputError(f"{path}: no readable row ({'; '.join(self.item.accounting()) or 'no rows'})")

    def add(self, ts: int, line: int, gpu: int, values: dict[str, Any]) -> None:
        step = self.step_of.get(gpu, 0)
        late = bool(self.ticks) and step > 0 and 2 * (ts - self.ticks[-1][0] - self.offset_of[gpu]) >= step
        if not self.ticks or gpu in self.seen or late:
            self.ticks.append((ts, line, {}))
            self.seen = set()
        self.seen.add(gpu)
        self.ticks[-1][2].update(values)
        if gpu in self.last_of:
            self.step_of[gpu] = ts - self.last_of[gpu]
        self.last_of[gpu], self.offset_of[gpu] = ts, ts - self.ticks[-1][0]

    def take(self, everything: bool) -> pl.DataFrame | None:
        """The finished ticks (all of them when `everything`: the last may go on in the next piece)."""
        done, self.ticks = (self.ticks, []) if everything else (self.ticks[:-1], self.ticks[-1:])
        kept = []
        for tick in done:
            if self.last is not None and tick[0] < self.last:
                self.item.skip("a time before the row above it", tick[1])
                continue
            kept.append(tick)
            self.last = tick[0]
        if not kept:
            return None
        self.first = kept[0][0] if self.first is None else self.first
        return _frame(kept, self.columns, self.first)


def _last(moments: pl.Series, before: int | None) -> int | None:
    """The instant (µs) of the last readable time in `moments`, else `before`."""
    read = moments.drop_nulls()
    return int(read.dt.epoch("us")[-1]) if read.len() else before


def _blocks(rows: Iterator[T]) -> Iterator[list[T]]:
    block: list[T] = []
    for row in rows:
        block.append(row)
        if len(block) == CHUNK_LINES:
            yield block
            block = []
    if block:
        yield block


class _Survey:
    """The first pass over a query log: which column tells the GPUs apart, their values and metadata,
    the number of rows, and every time shown to the time options (so the whole file decides the day order)."""

    def __init__(self, fields: list[str]) -> None:
        self.at = {key: fields.index(key) for key in KEYS if key in fields}
        self.unique = dict.fromkeys(self.at, True)  # no value twice at one time
        self.first_rows: dict[str, dict[str, list[str | None]]] = {key: {} for key in self.at}  # value -> its first row
        self.row_at_time: dict[str, set[str]] = {key: set() for key in self.at}
        self.stamp: str | None = None
        self.repeats = 0  # rows at the time of the row above
        self.rows = 0
        self.first_row: list[str | None] | None = None
        self.first_stamps: list[str] = []

    def add(self, row: list[str | None], stamp: str | None) -> None:
        self.rows += 1
        self.first_row = self.first_row or row
        if stamp != self.stamp:
            self.stamp = stamp
            for seen in self.row_at_time.values():
                seen.clear()
        elif self.rows > 1:
            self.repeats += 1
        for key, at in self.at.items():
            if not (value := row[at]) or _PLACEHOLDER.match(value):  # empty, [GPU is lost], a header without it
                continue
            if value in self.row_at_time[key]:
                self.unique[key] = False
            self.row_at_time[key].add(value)
            self.first_rows[key].setdefault(value, row)

    def key(self, path: Path) -> str | None:
        """The first of KEYS whose values differ between the rows of one time, else one with several values (a
        log of more rounds than one in a second of its whole-second stamps), else one with a single value in the
        whole file where most rows have a time of their own (one GPU, a time repeated by a restart in the same
        second); None for a log of one row at a time without such columns.

        Rows at one time that no column tells apart are refused: several GPUs, or one GPU logged faster than
        its times are written (a mislabelled column of a hand-made header cannot be told from it)."""
        key = next((key for key, unique in self.unique.items() if unique), None)
        key = key or next((key for key, firsts in self.first_rows.items() if len(firsts) > 1), None)
        if key is None and 2 * self.repeats < self.rows:
            key = next((key for key, firsts in self.first_rows.items() if len(firsts) == 1), None)
        if key is None and self.repeats:
            raise InputError(f"{path}: several rows at one time and no column that tells the GPUs apart: "
                             "add index (or pci.bus_id) to the --query-gpu fields, e.g. --query-gpu=timestamp,index,...")
        return key


def _gpu_numbers(key: str | None, values: list[str]) -> dict[str, int]:
    """GPU number of each key value: an index as it is; bus ids in bus order, as nvidia-smi numbers them;
    other keys in order of appearance."""
    if key in ("index", "gpu") and all(v.isdigit() for v in values):
        return {v: int(v) for v in values}
    ordered = sorted(values, key=str.lower) if key == "pci.bus_id" else values
    return {v: i for i, v in enumerate(ordered)}


def _info(fields: list[str], row: list[str | None]) -> dict[str, Any]:
    """A GPU's metadata from one of its rows: name, bus id, uuid, driver version, memory total."""
    record = dict(zip(fields, row))
    info: dict[str, Any] = {k: v for f, k in INFO_FIELDS.items() if (v := record.get(f)) and not _PLACEHOLDER.match(v)}
    try:
        info["memory_total_bytes"] = int(float((record.get("memory.total") or "").split()[0]) * MIB)
    except (ValueError, IndexError):
        pass
    return info


def _rows(path: Path, fields: list[str], headed: bool, item: Imported | None,
          ) -> Iterator[tuple[int, list[str | None]]]:
    """The rows with their line numbers, their cells in the order of `fields` (None: a field the header above
    the row lacks); other lines are counted in `item`, when given.

    nvidia-smi started again appends its own header: the rows below a header with other fields (another
    order, some added or left out) are read by that header's columns."""
    lines = ((n, line) for n, line in text_lines(path) if line.strip())
    if headed:
        next(lines, None)
    place: list[int | None] = list(range(len(fields)))  # where each of `fields` is in the rows below
    width = len(fields)
    for number, line in lines:
        row = [c.strip() for c in line.split(",")]
        if "timestamp" in line and is_query_header(names := [field_name(c) for c in row]):
            place, width = [names.index(f) if f in names else None for f in fields], len(names)
            if item is not None and names == fields:
                item.skip("a repeated header line", number)
            elif item is not None:
                _other_header(item, number, names, fields, READ_FIELDS)
        elif len(row) != width:
            if item is not None:
                item.skip(f"not {width} fields (a torn or foreign line)", number)
        else:
            yield number, [None if at is None else row[at] for at in place]


def _other_header(item: Imported, line: int, names: list[str], fields: list[str], known: Iterable[str]) -> None:
    """Name the `known` fields of a header part way that the first header (`fields`) lacks: nothing takes them."""
    if new := [name for name in names if name not in fields and name in known]:
        item.warnings.append(f"line {line}: a header with fields the first header lacks, ignored: {', '.join(new)}")


def read_query(path: Path, fields: list[str] | None, times: TimeOptions) -> Imported:
    """A --query-gpu log; `fields` names the columns of a file without a header (with or without units).

    The file is read twice, a line at a time: once to learn its GPUs and time format, then, as the
    session is written, into samples a piece at a time (`Imported.chunks`), so memory stays flat."""
    item = Imported(source=path, layout="nvidia-smi query")
    headed = fields is None
    if fields is None:
        first = first_line(path)
        if is_headerless_query(first):
            raise InputError(f"{path}: an nvidia-smi CSV without a header: give the fields it was queried with, "
                             "e.g. --fields timestamp,index,utilization.gpu,temperature.gpu,power.draw")
        fields = first.split(",")
    given = [name.strip() for name in fields]
    fields = [field_name(name) for name in given]
    if "timestamp" not in fields or not any(f in QUERY_FIELDS for f in fields):
        raise InputError(f"{path}: an nvidia-smi query needs timestamp and one of {', '.join(QUERY_FIELDS)}")
    item.ignore([shown for shown, name in zip(given, fields) if name not in READ_FIELDS])
    stamp = fields.index("timestamp")
    survey = _Survey(fields)
    for block in _blocks(_rows(path, fields, headed, None)):
        for _, row in block:
            survey.add(row, row[stamp])
        stamps = pl.Series("timestamp", [row[stamp] for _, row in block], pl.String)
        times.survey(stamps)
        survey.first_stamps = survey.first_stamps or stamps.to_list()
    times.settle(path)
    key = survey.key(path)
    values = list(survey.first_rows[key]) if key else []
    numbers = _gpu_numbers(key, values)
    firsts_of = survey.first_rows[key] if key else {"": survey.first_row} if survey.first_row else {}
    item.gpus = sorted(({"index": numbers.get(v, 0), "name": None, **_info(fields, row)} for v, row in firsts_of.items()),
                       key=lambda g: g["index"])
    item.host = {"hostname": None}
    firsts = parse_times(pl.Series("timestamp", survey.first_stamps, pl.String), path, times).drop_nulls()
    item.first_us = int(firsts.dt.epoch("us")[0]) if firsts.len() else None
    item.chunks = lambda: _samples(path, fields, headed, key, numbers, item, times, survey.rows)
    return item


def _samples(path: Path, fields: list[str], headed: bool, key: str | None, numbers: dict[str, int],
             item: Imported, times: TimeOptions, total: int) -> Iterator[pl.DataFrame]:
    """The second pass: the log's samples, a piece at a time; skipped rows counted in `item`."""
    at = fields.index(key) if key else None
    stamp = fields.index("timestamp")
    wanted = {name: (fields.index(name), suffix, scale) for name, (suffix, scale) in QUERY_FIELDS.items()
              if name in fields}
    suffixes = list(dict.fromkeys(suffix for _, suffix, _ in wanted.values()))
    indices = sorted(set(numbers.values())) or [0]
    ticks = _Ticks(item, [gpu_column(i, suffix) for i in indices for suffix in suffixes])
    done = 0
    item.progress = lambda: done / total if total else 1.0
    last = None  # the instant of the last row read, for a time the autumn clock change shows twice
    for block in _blocks(_rows(path, fields, headed, item)):
        moments = parse_times(pl.Series("timestamp", [row[stamp] for _, row in block], pl.String), path, times, last)
        last = _last(moments, last)
        for (number, row), ts in zip(block, moments.dt.epoch("us").to_list()):
            if at is None:
                ticks.add_row(ts, number, row, 0, wanted)
            elif (value := row[at]) is not None and value in numbers:
                ticks.add_row(ts, number, row, numbers[value], wanted)
            elif value and not _PLACEHOLDER.match(value):  # a logger still writing: the file grew since the survey
                item.skip(f"a GPU that was not in the file when it was first read ({key} {value})", number)
            else:  # empty, a placeholder (the survey took none as a GPU), or a header without the key above it
                why = "under a header without it" if value is None else value or "an empty cell"
                item.skip(f"no {key} to tell its GPU ({why})", number)
        done += len(block)
        if (frame := ticks.take(everything=False)) is not None:
            yield frame
    yield from ticks.rest(path)


def _dmon_rows(path: Path, header: list[str], item: Imported) -> Iterator[tuple[int, list[str]]]:
    """dmon's rows of a GPU index, their cells in the order of `header` (empty: a column the header above the
    row lacks); other lines are counted in `item`. dmon started again with other columns (`-s`) prints its
    own header: the rows below it are read by that header's columns."""
    lines = text_lines(path)
    next(lines, None)
    place: list[int | None] = list(range(len(header)))
    width, gpu = len(header), header.index("gpu")
    for number, line in lines:
        if line.lstrip().startswith("#"):
            names = line.lstrip().lstrip("#").split()
            if names[:2] == ["Date", "Time"] and "gpu" in names:
                place = [names.index(name) if name in names else None for name in header]
                width, gpu = len(names), names.index("gpu")
                _other_header(item, number, names, header, DMON_FIELDS)
            continue
        if not line.strip():
            continue
        row = line.split()
        if len(row) != width:
            item.skip(f"not {width} fields (a torn or foreign line)", number)
        elif not row[gpu].isdigit():
            item.skip("no GPU index", number)
        else:
            yield number, ["" if at is None else row[at] for at in place]


def read_dmon(path: Path, times: TimeOptions) -> Imported:
    """`nvidia-smi dmon` output with its Date and Time columns (`-o DT`), read a piece at a time like a
    query log: a first pass learns its GPUs (its `YYYYMMDD` dates need no day order)."""
    item = Imported(source=path, layout="nvidia-smi dmon")
    header = first_line(path).lstrip("#").split()
    if header[:2] != ["Date", "Time"]:
        raise InputError(f"{path}: nvidia-smi dmon output without its Date and Time columns "
                         "(run it as nvidia-smi dmon -o DT); it needs Date, Time, gpu")
    item.ignore([name for name in header[2:] if name != "gpu" and name not in DMON_FIELDS])
    survey = Imported(source=path, layout=item.layout)  # the first pass's count of bad lines, for a refusal
    indices: set[int] = set()
    first_stamp = None
    for _, row in _dmon_rows(path, header, survey):
        indices.add(int(row[header.index("gpu")]))
        first_stamp = first_stamp or f"{row[0]} {row[1]}"
    if not indices:
        raise InputError(f"{path}: no readable row ({'; '.join(survey.accounting()) or 'no rows'})")
    item.gpus = [{"index": i, "name": None} for i in sorted(indices)]
    item.host = {"hostname": None}
    stamp = parse_times(pl.Series("time", [first_stamp], pl.String), path, times)[0]
    item.first_us = round(stamp.timestamp() * 1_000_000) if stamp is not None else None
    item.chunks = lambda: _dmon_samples(path, header, sorted(indices), item, times)
    return item


def _dmon_samples(path: Path, header: list[str], indices: list[int], item: Imported,
                  times: TimeOptions) -> Iterator[pl.DataFrame]:
    wanted = {name: (header.index(name), suffix, scale) for name, (suffix, scale) in DMON_FIELDS.items()
              if name in header}
    ticks = _Ticks(item, [gpu_column(i, suffix) for i in indices for _, suffix, _ in wanted.values()])
    gpu_at = header.index("gpu")
    last = None
    for block in _blocks(_dmon_rows(path, header, item)):
        stamps = pl.Series("time", [f"{row[0]} {row[1]}" for _, row in block], pl.String)
        moments = parse_times(stamps, path, times, last)
        last = _last(moments, last)
        for (number, row), ts in zip(block, moments.dt.epoch("us").to_list()):
            ticks.add_row(ts, number, row, int(row[gpu_at]), wanted)
        if (frame := ticks.take(everything=False)) is not None:
            yield frame
    yield from ticks.rest(path)
