"""The TTS monitoring system's per-request CSV (`synthesis_*.csv`) as a session of spans, without samples.

Its columns map onto the span table of SESSION_FORMAT (§ spans): `duration_s` is
`total_duration_s`, `text_length` is `text_length_chars`, `error` is
`error_message`, `audio_duration_s` is the `audio_s` attribute (then
`rtf = total_duration_s / audio_s`). `timestamp` is when the request finished
(the row was logged then), unless a `start_time` column says when it started.
Every other column (`quantization_used`, `chunk_length`, ...) is an attribute.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from collectors.spans import SPAN_COLUMNS
from collectors.timeutil import iso_from_us
from recordings.errors import InputError
from recordings.importers.table import LINE
from recordings.importers.times import TimeOptions, parse_times
from recordings.importers.writer import Imported

REQUIRED = ("request_id", "timestamp or start_time", "duration_s or total_duration_s")
ALIASES = {"duration_s": "total_duration_s", "text_length": "text_length_chars", "error": "error_message",
           "audio_duration_s": "audio_s", "tokens": "text_length_tokens"}
HOST_KEYS = ("hardware_tier", "device_type", "cpu_model", "cpu_cores", "total_memory_gb", "gpu_name")
TEMPERATURES = ("temperature_c", "temp_c")  # how the columns of a temperature in °C end
_TRUE, _FALSE = {"true", "1", "yes", "t"}, {"false", "0", "no", "f"}
_TEXT = frozenset({"request_id", "name", "hardware_tier", "device_type", "cpu_model", "gpu_name", "error_message"})


def _value(text: str | None, name: str) -> Any:
    """A cell as bool, int, float or text (the span table types each column from its values)."""
    if text is None or text == "":
        return None
    if name in _TEXT:
        return text
    low = text.lower()
    if low in _TRUE | _FALSE and name in ("success", "throttle_detected"):
        return low in _TRUE
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return low in _TRUE if low in ("true", "false") else text


def _all_zero(spans: list[dict[str, Any]], name: str) -> bool:
    values = [span[name] for span in spans if span[name] is not None]
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) and v == 0 for v in values)


def _null_sensorless(spans: list[dict[str, Any]], item: Imported) -> None:
    """Columns that are 0.0 on every row where nothing was read, as null, said in `item.dropped`.

    The TTS monitor writes 0.0 where it read no sensor (an Apple M1 has none that psutil reads), and
    no running machine peaks at 0 °C on every request: that is no reading. On a run without a CUDA device
    (`device_type` cpu on every row) it writes 0.0 for the GPU's figures (memory, utilization) too.
    Beside rows with real values a 0.0 is left as measured."""
    cpu_run = all(span.get("device_type") == "cpu" for span in spans)
    for name in [name for name in spans[0] if _all_zero(spans, name)]:
        if name.endswith(TEMPERATURES):
            why = "(no temperature sensor was read)"
        elif cpu_run and "gpu" in name and name not in _TEXT:
            why = "of a cpu run (no GPU was read)"
        else:
            continue
        for span in spans:
            span[name] = None
        item.dropped.append(f"{name}: 0.0 in every row {why}, stored as null")


def read_requests(path: Path, raw: pl.DataFrame, torn: int | None, options: TimeOptions) -> Imported:
    """`raw`: the CSV as text with its line numbers; `torn`: the line of a cut last row."""
    raw = raw.rename({c: ALIASES.get(c, c) for c in raw.columns if ALIASES.get(c, c) not in raw.columns})
    time_column = "start_time" if "start_time" in raw.columns else "timestamp"
    missing = [need for need, ok in zip(REQUIRED, ("request_id" in raw.columns, time_column in raw.columns,
                                                   "total_duration_s" in raw.columns)) if not ok]
    if missing:
        raise InputError(f"{path}: a TTS request CSV without {', '.join(missing)} (it needs {', '.join(REQUIRED)})")
    item = Imported(source=path, layout="tts requests")
    if torn is not None:
        item.skip("a last line cut short", torn)
    repeated = (raw["request_id"] == "request_id").fill_null(False)
    for line in raw[LINE].filter(repeated):
        item.skip("a repeated header line", line)
    raw = raw.filter(~repeated)
    times = parse_times(raw[time_column], path, options)
    spans = []
    for moment, record in zip(times.dt.epoch("us").to_list(), raw.iter_rows(named=True)):
        line = record.pop(LINE)
        if moment is None:
            item.skip(f"an unreadable {time_column}", line)
            continue
        row: dict[str, Any] = dict.fromkeys(SPAN_COLUMNS)
        row["name"] = "synthesis"
        for name, text in record.items():
            if name not in ("timestamp", "start_time", "end_time"):
                row[name] = _value(text, name)
        duration = row["total_duration_s"]
        if not isinstance(duration, (int, float)) or isinstance(duration, bool) or duration < 0:
            item.skip("a duration that is not a number of seconds", line)
            continue
        shift = round(duration * 1e6)  # to the nearest µs: truncating made 144.25478887 s 1 µs short
        start = moment if time_column == "start_time" else moment - shift
        row["start_time"], row["end_time"] = iso_from_us(start), iso_from_us(start + shift)
        audio = row.get("audio_s")
        if isinstance(audio, (int, float)) and audio > 0:
            row["rtf"] = duration / audio
        if row["success"] is None:
            row["success"] = not row["error_message"]
        spans.append(row)
    if not spans:
        raise InputError(f"{path}: no readable request ({'; '.join(item.accounting()) or 'no rows'})")
    _null_sensorless(spans, item)
    item.spans = spans
    first = spans[0]
    item.host = {k: first.get(k) for k in HOST_KEYS if first.get(k) is not None}
    if first.get("cpu_model"):
        item.host["cpu_count_logical"] = first.get("cpu_cores")
    if first.get("gpu_name"):
        item.gpus = [{"index": 0, "name": first["gpu_name"]}]
    item.meta = {"session_end": max(s["end_time"] for s in spans)}
    return item
