"""GPU logs as real loggers leave them: started again (a header with other fields part way, in query logs
and dmon output), padded with zero bytes by a power loss, rotated and compressed, still growing, written
across the autumn clock change, with a GPU logged for part of the file, lost (`[GPU is lost]` as its index),
a torn row, a repeated time, two fields of one quantity, a unit nvidia-smi never writes, blank lines first."""

from __future__ import annotations

import gzip
import json
import shutil

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recordings.errors import InputError
from recordings.importers import import_file, nvidia_smi, read_file, writer
from recordings.importers.times import TimeOptions
from recordings.importers.writer import write_imported
from tests.afterrun.conftest import one_clear_line
from tests.afterrun.import_pieces import whole_and_pieces

FIRST = "timestamp, index, utilization.gpu [%], temperature.gpu\n"


def _import(tmp_path, text: str, name: str = "gpu.csv", tz: str = "UTC") -> tuple[pl.DataFrame, dict]:
    source = tmp_path / name
    source.write_text(text)
    session, _ = import_file(source, tmp_path / f"s-{name}", times=TimeOptions(tz=tz))
    return pl.read_parquet(session / "samples.parquet"), json.loads((session / "meta.json").read_text())


def test_a_header_with_its_fields_in_another_order_reads_the_rows_below_it_by_its_columns(tmp_path):
    """nvidia-smi run again with the same fields in another order appends its own header: its rows are
    read by it, never by the first header (which swapped utilization and temperature: a 99 °C GPU)."""
    text = (FIRST + "2024/01/02 03:04:05.000, 0, 10 %, 50\n2024/01/02 03:04:06.000, 0, 20 %, 51\n"
            "timestamp, index, temperature.gpu, utilization.gpu [%]\n"
            "2024/01/02 03:05:00.000, 0, 70, 99 %\n2024/01/02 03:05:01.000, 0, 71, 98 %\n")
    samples, meta = _import(tmp_path, text)
    assert samples["gpu0_util_pct"].to_list() == [10.0, 20.0, 99.0, 98.0]
    assert samples["gpu0_temp_c"].to_list() == [50.0, 51.0, 70.0, 71.0]
    assert meta["imported"]["skipped_rows"] == {}


def test_a_header_with_other_fields_leaves_the_missing_ones_null_and_names_the_new_ones(tmp_path):
    text = (FIRST + "2024/01/02 03:04:05.000, 0, 10 %, 50\n"
            "timestamp, index, power.draw [W], utilization.gpu [%]\n"
            "2024/01/02 03:05:00.000, 0, 250.00 W, 99 %\n")
    samples, meta = _import(tmp_path, text)
    assert samples["gpu0_util_pct"].to_list() == [10.0, 99.0]
    assert samples["gpu0_temp_c"].to_list() == [50.0, None]  # not measured under the second header
    assert samples["gpu0_power_w"].to_list() == [None, None]  # not a column of the session's first header
    assert any("power.draw" in warning and "line 3" in warning for warning in meta["warnings"])


def test_rows_under_a_header_without_the_gpu_key_are_skipped_and_counted(tmp_path):
    two = "".join(f"2024/01/02 03:04:0{t}.000, {g}, {g + t} %, 50\n" for t in range(2) for g in range(2))
    text = (FIRST + two + "timestamp, utilization.gpu [%], temperature.gpu\n"
            "2024/01/02 03:05:00.000, 99 %, 70\n2024/01/02 03:05:00.000, 98 %, 71\n")
    samples, meta = _import(tmp_path, text)
    assert samples.height == 2 and samples["gpu1_util_pct"].to_list() == [1.0, 2.0]
    assert meta["imported"]["skipped_rows"] == {
        "no index to tell its GPU (under a header without it)": {"rows": 2, "first_line": 7}}


def test_one_gpu_with_a_time_repeated_by_a_restart_is_one_gpu(tmp_path):
    """A log of one GPU (its index always 3) with whole-second stamps, started again within the second of its
    last row: that GPU's, not several GPUs that cannot be told apart (it was refused so)."""
    seconds = [0, 1, 2, 2, 3, 4]
    text = FIRST + "".join(f"2024/01/02 03:04:0{s}, 3, {n} %, {50 + n}\n" for n, s in enumerate(seconds))
    samples, meta = _import(tmp_path, text)
    assert samples["gpu3_util_pct"].to_list() == [float(n) for n in range(6)]
    assert samples["elapsed_s"].to_list() == [0.0, 1.0, 2.0, 2.0, 3.0, 4.0]
    assert [gpu["index"] for gpu in meta["gpus"]] == [3]


def test_rows_at_every_time_with_one_index_are_still_refused(tmp_path):
    """Two rows at every time and an index that never changes: two GPUs under a mislabelled column, or one
    logged twice a second; nothing tells which, so the file is refused with the fix."""
    text = FIRST + "".join(f"2024/01/02 03:04:0{t // 2}, 0, {t} %, 50\n" for t in range(6))
    with pytest.raises(InputError, match="several rows at one time and no column that tells the GPUs apart"):
        _import(tmp_path, text)


@pytest.mark.parametrize("logged", ["from minute 20", "until minute 20"])
def test_a_gpu_logged_for_part_of_the_log_has_the_same_derived_values_whatever_the_pieces(tmp_path, monkeypatch,
                                                                                         logged):
    """gpu1 is logged from minute 20 on (hot-plugged, a second logger started late) or until it (lost): the
    pieces a long log is read in change nothing. Before its first row its derived values are null (they were
    in the pieces before it, 0 in the rows of its own piece); after its last, collapse flags and the rolling
    peak go on as live (they were null in pieces without its RLE)."""
    rows = []
    for m in range(40):
        gpus = (0, 1) if (m >= 20) == (logged == "from minute 20") else (0,)
        rows += [f"2026-03-11 10:{m:02d}:00, {g}, {(m * 7 + g) % 100} %, {50 + g}, {100 + m} W, 300 W\n" for g in gpus]
    source = tmp_path / "part.csv"
    source.write_text("timestamp, index, utilization.gpu [%], temperature.gpu, power.draw [W], power.limit [W]\n"
                      + "".join(rows))
    derived = [f"gpu1_{name}" for name in ("t_sustain_s", "e_th", "a_load", "rle_raw", "collapse", "rolling_peak")]
    whole, pieces = whole_and_pieces(source, tmp_path, derived, monkeypatch)
    logged_rows = whole[20:] if logged == "from minute 20" else whole[:20]
    assert logged_rows.null_count().sum_horizontal().item() == 0
    if logged == "from minute 20":
        assert whole[:20].null_count().row(0) == (20,) * len(derived)  # nothing derived before it was logged
    else:
        assert whole["gpu1_collapse"][20:].to_list() == [0] * 20  # an RLE was seen: no collapse after, as live
    assert pieces.equals(whole)


@pytest.mark.parametrize("chunk", [100_000, 5])
def test_local_times_across_the_autumn_clock_change_keep_their_order(tmp_path, monkeypatch, chunk):
    """A log in Berlin time across the night of 27 October 2024 writes 02:00-02:59 twice; the second time is
    the hour after the first (it was read as the first again: an hour of rows skipped as going backwards, one
    put an hour early), also where a piece the log is read in starts inside it."""
    monkeypatch.setattr(nvidia_smi, "CHUNK_LINES", chunk)
    walls = ["02:30", "02:40", "02:50", "02:00", "02:10", "02:20", "02:30", "02:40", "02:50", "03:00", "03:10"]
    text = FIRST + "".join(f"2024/10/27 {wall}:00.000, 0, {n} %, 50\n" for n, wall in enumerate(walls))
    samples, meta = _import(tmp_path, text, tz="Europe/Berlin")
    assert samples["gpu0_util_pct"].to_list() == [float(n) for n in range(len(walls))]
    assert samples["elapsed_s"].to_list() == [600.0 * n for n in range(len(walls))]  # 00:30 UTC on, 10 min apart
    assert samples["ts"][0].isoformat() == "2024-10-27T00:30:00+00:00"
    assert meta["imported"]["skipped_rows"] == {}


def test_a_log_padded_with_zero_bytes_by_a_power_loss_keeps_its_rows(tmp_path):
    """A power loss leaves a run of zero bytes where the last writes were (the file system's size was
    updated, the data not); the logger started again appends after them. Such a short log was refused as
    not a text file; its rows are read, the zero bytes left out."""
    before = FIRST + "2024/01/02 03:04:05.000, 0, 10 %, 50\n2024/01/02 03:04:06.000, 0, 11 %, 51\n"
    after = FIRST + "2024/01/02 03:10:00.000, 0, 12 %, 52\n"
    source = tmp_path / "crashed.csv"
    source.write_bytes(before.encode() + b"\0" * 2048 + after.encode())
    session, item = import_file(source, tmp_path / "s", times=TimeOptions(tz="UTC"))
    samples = pl.read_parquet(session / "samples.parquet")
    assert samples["gpu0_util_pct"].to_list() == [10.0, 11.0, 12.0]
    assert item.skipped_rows == {"a repeated header line": {"rows": 1, "first_line": 4}}


def test_a_file_whose_first_line_holds_zero_bytes_is_still_not_text(tmp_path):
    source = tmp_path / "gpu.bin"
    source.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00" + FIRST.encode())
    with pytest.raises(InputError, match="not a text file"):
        import_file(source, tmp_path / "s")


def test_a_rotated_gzip_log_is_named_as_such(tmp_path, rig):
    """logrotate compresses old logs: the line says what the file is and what to do (it said 'not a text
    file' and listed the layouts, as for a file of no known kind)."""
    source = tmp_path / "nvidia-smi.log.1.gz"
    source.write_bytes(gzip.compress((FIRST + "2024/01/02 03:04:05.000, 0, 10 %, 50\n").encode()))
    done = rig("import", str(source), "--dir", str(tmp_path / "s"))
    assert one_clear_line(done) == (f"rigscope: error: {source}: gzip-compressed, not text: decompress it first "
                                    "and import what comes out")
    assert not (tmp_path / "s").exists()


def test_a_lab_csv_padded_with_zero_bytes_keeps_the_row_after_them(tmp_path):
    rows = [f"2025-06-01T12:00:{n:02d}Z,gpu,{n + 10}.5,{n + 40}\n" for n in range(3)]
    source = tmp_path / "lab.csv"
    source.write_bytes(("timestamp,device,util_pct,temp_c\n" + "".join(rows[:2])).encode() + b"\0" * 700
                       + rows[2].encode())
    session, item = import_file(source, tmp_path / "s")
    assert pl.read_parquet(session / "samples.parquet")["gpu0_util_pct"].to_list() == [10.5, 11.5, 12.5]
    assert item.skipped_rows == {}


def test_a_placeholder_where_the_gpu_index_belongs_is_no_gpu(tmp_path):
    """A GPU that fell off the bus can print `[GPU is lost]` in every field, its index too, and a torn write
    can leave the index empty: such a row tells no GPU (it was a third GPU, gpu2, that never existed; an
    empty index renumbered the others); it is skipped and counted."""
    text = (FIRST + "2024/01/02 03:04:05.000, 0, 10 %, 50\n2024/01/02 03:04:05.000, 1, 20 %, 60\n"
            "2024/01/02 03:04:06.000, 0, 11 %, 51\n2024/01/02 03:04:06.000, [GPU is lost], [GPU is lost], [GPU is lost]\n"
            "2024/01/02 03:04:07.000, , 12 %, 52\n")
    samples, meta = _import(tmp_path, text)
    assert [gpu["index"] for gpu in meta["gpus"]] == [0, 1]
    assert not any(name.startswith("gpu2_") for name in samples.columns)
    assert samples["gpu1_util_pct"].to_list() == [20.0, None]
    assert meta["imported"]["skipped_rows"] == {"no index to tell its GPU ([GPU is lost])": {"rows": 1, "first_line": 5},
                                                "no index to tell its GPU (an empty cell)": {"rows": 1, "first_line": 6}}


def test_dmon_started_again_with_other_columns_reads_the_rows_below_by_its_header(tmp_path):
    """`nvidia-smi dmon -o DT -s pu` and later `-s u` appended to one file: the second header's rows have sm
    where the first header has pwr (they were read as 98 W, 97 W and a 40 °C sm)."""
    text = ("#Date       Time        gpu    pwr  gtemp    sm   mem\n#YYYYMMDD   HH:MM:SS    Idx      W      C     %     %\n"
            " 20250601   12:00:00      0    250     71    35    10\n"
            "#Date       Time        gpu     sm   mem   enc   dec\n#YYYYMMDD   HH:MM:SS    Idx      %     %     %     %\n"
            " 20250601   12:05:00      0     98    40     0     0\n 20250601   12:05:01      0     97    41     0     0\n")
    samples, meta = _import(tmp_path, text, name="dmon.log")
    assert samples["gpu0_util_pct"].to_list() == [35.0, 98.0, 97.0]
    assert samples["gpu0_mem_util_pct"].to_list() == [10.0, 40.0, 41.0]
    assert samples["gpu0_power_w"].to_list() == [250.0, None, None]
    assert samples["gpu0_temp_c"].to_list() == [71.0, None, None]


def test_two_fields_of_one_quantity_keep_the_reading_of_either(tmp_path):
    """power.draw beside power.draw.instant (which older GPUs answer [N/A]), power.limit beside
    enforced.power.limit: a placeholder in one never hides the other's reading (power was null throughout)."""
    text = ("timestamp, index, power.draw [W], power.draw.instant [W], power.limit [W], enforced.power.limit [W]\n"
            "2024/01/02 03:04:05.000, 0, 250.00 W, [N/A], 300.00 W, [N/A]\n"
            "2024/01/02 03:04:06.000, 0, [N/A], 260.00 W, [N/A], 310.00 W\n")
    samples, _ = _import(tmp_path, text)
    assert samples["gpu0_power_w"].to_list() == [250.0, 260.0]
    assert samples["gpu0_power_limit_w"].to_list() == [300.0, 310.0]


def test_a_round_missing_its_first_gpus_row_does_not_shift_that_gpu_for_the_rest_of_the_log(tmp_path):
    """Two GPUs a second apart, each row stamped a few ms after the one above (as nvidia-smi stamps its
    lines); gpu0's row of the third round is torn. gpu0's later rows stay at their own times (they were
    each put a round early, beside gpu1's row of the round before, to the end of the log)."""
    rows = []
    for second in range(6):
        for gpu in range(2):
            cells = f"2024/01/02 03:04:{second:02d}.{gpu * 3:03d}, {gpu}, {second * 10 + gpu} %, 50"
            rows.append(cells[:30] + "\n" if (second, gpu) == (2, 0) else cells + "\n")
    samples, meta = _import(tmp_path, FIRST + "".join(rows))
    assert samples["gpu0_util_pct"].to_list() == [0.0, 10.0, None, 30.0, 40.0, 50.0]
    assert samples["gpu1_util_pct"].to_list() == [1.0, 11.0, 21.0, 31.0, 41.0, 51.0]
    assert samples["elapsed_s"].to_list() == [0.0, 1.0, 2.003, 3.0, 4.0, 5.0]
    assert meta["imported"]["skipped_rows"] == {"not 4 fields (a torn or foreign line)": {"rows": 1, "first_line": 6}}


@pytest.mark.parametrize("text", [
    "\n\n" + FIRST + "2024/01/02 03:04:05.000, 0, 10 %, 50\n",
    "\r\n#Date       Time        gpu    pwr  gtemp    sm\n#YYYYMMDD   HH:MM:SS    Idx      W      C     %\n"
    " 20240102   03:04:05      0    250     71    10\n",
    "\ntimestamp,device,util_pct,temp_c\n2024-01-02T03:04:05Z,gpu,10,50\n",
])
def test_blank_lines_before_the_header_are_no_empty_file(tmp_path, text):
    """A script that writes a blank line before starting its logger (it was refused as an empty file)."""
    samples, _ = _import(tmp_path, text)
    assert samples["gpu0_util_pct"].to_list() == [10.0]


def test_a_unit_nvidia_smi_never_writes_is_not_read_as_its_own(tmp_path):
    """A hand-made logger's `1.5 GiB` or `0.25 kW` is no reading in MiB or W (it was read as 1.5 MiB and
    0.25 W): the row is skipped and counted, as any cell that is not a number."""
    text = ("timestamp, index, memory.used [MiB], power.draw [W]\n2024/01/02 03:04:05.000, 0, 1500 MiB, 250.00 W\n"
            "2024/01/02 03:04:06.000, 0, 1.5 GiB, 250.00 W\n2024/01/02 03:04:07.000, 0, 1500 MiB, 0.25 kW\n")
    samples, meta = _import(tmp_path, text)
    assert samples["gpu0_mem_used_bytes"].to_list() == [1500 * 2**20]
    assert meta["imported"]["skipped_rows"] == {"memory.used not a number": {"rows": 1, "first_line": 3},
                                                "power.draw not a number": {"rows": 1, "first_line": 4}}


def test_a_log_that_grows_while_it_is_imported_gives_no_traceback(tmp_path):
    """The log of a logger still running is read twice (its GPUs first, then its samples): rows of a GPU it
    did not hold at the first reading are skipped and counted (a KeyError came out of the import)."""
    source = tmp_path / "live.csv"
    source.write_text(FIRST + "2024/01/02 03:04:05.000, 0, 10 %, 50\n")
    item = read_file(source, times=TimeOptions(tz="UTC"))
    with source.open("a") as log:
        log.write("2024/01/02 03:04:06.000, 0, 11 %, 51\n2024/01/02 03:04:06.000, 1, 20 %, 60\n")
    session = write_imported(item, tmp_path / "s")
    assert pl.read_parquet(session / "samples.parquet")["gpu0_util_pct"].to_list() == [10.0, 11.0]
    assert item.skipped_rows == {"a GPU that was not in the file when it was first read (index 1)":
                                 {"rows": 1, "first_line": 4}}


HEADERS = [FIRST.strip(), "timestamp, pci.bus_id, memory.used [MiB], utilization.gpu [%]", "index, timestamp, power.draw [W]"]
CELLS = st.sampled_from(["", "0", "1", "[N/A]", "[GPU is lost]", "85 %", "1234 MiB", "1.5 GiB", "250.00 W", "P0", "nan",
                         "2024/01/02 03:04:05.678", "2024/10/27 02:30:00", "00000000:01:00.0", "abc", "timestamp"])
LINES = st.one_of(st.sampled_from(HEADERS), st.just(""), st.lists(CELLS, min_size=2, max_size=5).map(", ".join))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.sampled_from(HEADERS), lines=st.lists(LINES, max_size=12), chunk=st.sampled_from([2, 10_000]))
def test_any_mix_of_headers_placeholders_and_torn_rows_is_a_session_or_one_line(tmp_path, monkeypatch, first, lines,
                                                                               chunk):
    monkeypatch.setattr(nvidia_smi, "CHUNK_LINES", chunk)
    source = tmp_path / "mixed.csv"
    source.write_text("\n".join([first, *lines]) + "\n")
    root = tmp_path / "s"
    try:
        session, _ = import_file(source, root, times=TimeOptions(tz="Europe/Berlin"))
    except InputError as error:
        assert "\n" not in str(error) and (not root.exists() or not any(root.iterdir()))
    else:
        assert (session / "meta.json").is_file()
        shutil.rmtree(root)


def test_a_lab_file_derived_in_pieces_gives_the_session_of_one_piece(lab, tmp_path, monkeypatch):
    """A long lab CSV is derived a piece at a time (memory: its derived table is several times the file);
    the pieces change no value, the lab's own collapse column included."""
    sessions, heights = [], []
    prepare = writer.prepare_samples
    monkeypatch.setattr(writer, "prepare_samples", lambda frame, *args: heights.append(frame.height) or prepare(frame, *args))
    for rows in (1_000_000, 333):
        monkeypatch.setattr(writer, "PIECE_ROWS", rows)
        session, _ = import_file(lab / "pc__rle_20251027_09.csv", tmp_path / f"s{rows}")
        sessions.append(session)
    whole, pieces = (pl.read_parquet(session / "samples.parquet") for session in sessions)
    assert heights[0] == whole.height and max(heights[1:]) == 333 and sum(heights[1:]) == whole.height
    assert whole.height > 333 * 10 and "legacy_gpu0_collapse" in whole.columns
    assert pieces.equals(whole)
    summaries = [json.loads((session / "meta.json").read_text())["summary"] for session in sessions]
    assert summaries[0] == summaries[1]


def test_gpu_figures_of_a_cpu_run_that_are_zero_on_every_request_are_null(realworld, tmp_path):
    """The TTS monitor on an Apple M1 (`device_type` cpu: no CUDA device it can read) writes 0.0 for the
    GPU's memory and utilization peaks: no reading, so null and said (they were kept as measured zeros)."""
    session, item = import_file(realworld / "synthesis_m1_air_20251113_013730.csv", tmp_path / "s")
    spans = pl.read_parquet(session / "spans.parquet")
    for name in ("peak_gpu_memory_mb", "peak_gpu_util_pct", "fish_gpu_memory_gb"):
        assert spans[name].to_list() == [None]
        assert f"{name}: 0.0 in every row of a cpu run (no GPU was read), stored as null" in item.dropped
    assert spans["peak_memory_mb"].to_list() == [4120.390625]  # the CPU side's readings stay


def test_gpu_figures_of_a_cuda_run_are_kept_even_at_zero(realworld, tmp_path):
    text = (realworld / "synthesis_m1_air_20251113_013730.csv").read_text().replace(",cpu,arm,", ",cuda,arm,")
    source = tmp_path / "synthesis_cuda.csv"
    source.write_text(text)
    session, item = import_file(source, tmp_path / "s")
    assert pl.read_parquet(session / "spans.parquet")["peak_gpu_memory_mb"].to_list() == [0.0]
    assert not any("gpu" in line for line in item.dropped)


def test_eight_gpus_stamped_far_apart_in_a_fast_round_stay_one_tick(tmp_path):
    """`-lms 100` over 8 GPUs, nvidia-smi stamping each line about 20 ms after the one above: the last
    GPU's row comes 140 ms into a 100 ms round and is still of that round."""
    rows = []
    for tick in range(5):
        for gpu in range(8):
            ms = tick * 160 + gpu * 20
            rows.append(f"2024/01/02 03:04:{ms // 1000:02d}.{ms % 1000:03d}, {gpu}, {tick * 10 + gpu} %, 50\n")
    samples, meta = _import(tmp_path, FIRST + "".join(rows))
    assert samples.height == 5
    assert samples["gpu7_util_pct"].to_list() == [7.0, 17.0, 27.0, 37.0, 47.0]


def test_a_semicolon_separated_export_is_told_as_such(tmp_path, rig):
    """A log opened in a spreadsheet and saved in a decimal-comma locale: `;` between the cells, `250,00`.
    The line says so and what to do (it named one column of the whole header and listed the layouts)."""
    source = tmp_path / "gpu.csv"
    source.write_text("timestamp;index;utilization.gpu [%];power.draw [W]\n2024/01/02 03:04:05.000;0;85 %;250,00 W\n")
    done = rig("import", str(source), "--dir", str(tmp_path / "s"))
    assert one_clear_line(done) == (f"rigscope: error: {source}: cells separated by ';' (a spreadsheet's export in a "
                                    "decimal-comma locale?): save it as CSV with ',' between cells and '.' in numbers")


def test_a_sessions_directory_that_cannot_be_made_is_named_as_given(tmp_path, rig):
    """`--dir` under a file: the line names the directory the user gave, not the hidden staging directory
    inside it that the user never asked for."""
    (tmp_path / "afile").write_text("")
    source = tmp_path / "gpu.csv"
    source.write_text(FIRST + "2024/01/02 03:04:05.000, 0, 10 %, 50\n")
    done = rig("import", str(source), "--dir", str(tmp_path / "afile" / "sessions"))
    assert one_clear_line(done) == (f"rigscope: error: cannot write a session into {tmp_path / 'afile' / 'sessions'}: "
                                    "Not a directory")


def test_a_byte_order_mark_where_a_logger_started_again_is_no_part_of_the_header(tmp_path):
    """A Python logger that opens its file with utf-8-sig to append writes a byte-order mark at each start:
    the header after it is still a header (the rows below it were read by the first header's columns)."""
    text = (FIRST + "2024/01/02 03:04:05.000, 0, 10 %, 50\n"
            "\ufefftimestamp, index, temperature.gpu, utilization.gpu [%]\n2024/01/02 03:05:00.000, 0, 70, 99 %\n")
    source = tmp_path / "bom.csv"
    source.write_bytes(("\ufeff" + text).encode())
    session, item = import_file(source, tmp_path / "s", times=TimeOptions(tz="UTC"))
    samples = pl.read_parquet(session / "samples.parquet")
    assert samples["gpu0_util_pct"].to_list() == [10.0, 99.0] and samples["gpu0_temp_c"].to_list() == [50.0, 70.0]
    assert item.skipped_rows == {}


def test_a_byte_order_mark_before_a_repeated_lab_header_is_a_repeated_header(tmp_path):
    header = "timestamp,device,util_pct,temp_c\n"
    source = tmp_path / "lab.csv"
    source.write_text(header + "2025-06-01T12:00:00Z,gpu,10.5,40\n\ufeff" + header + "2025-06-01T12:00:01Z,gpu,11.5,41\n")
    session, item = import_file(source, tmp_path / "s")
    assert pl.read_parquet(session / "samples.parquet")["gpu0_util_pct"].to_list() == [10.5, 11.5]
    assert item.skipped_rows == {"a repeated header line": {"rows": 1, "first_line": 3}}


def test_two_gpus_logged_twice_in_one_second_are_told_apart_by_their_index(tmp_path):
    """A loop at 2 Hz with whole-second stamps over two GPUs: index tells them apart though each index shows
    twice at one time (the log was refused as several GPUs that nothing tells apart)."""
    text = FIRST + "".join(f"2024/01/02 03:04:0{t // 2}, {g}, {t * 10 + g} %, 50\n" for t in range(4) for g in range(2))
    samples, _ = _import(tmp_path, text)
    assert samples["gpu0_util_pct"].to_list() == [0.0, 10.0, 20.0, 30.0]
    assert samples["gpu1_util_pct"].to_list() == [1.0, 11.0, 21.0, 31.0]
