"""`rigscope import` of the TTS system's request CSV (a session of spans) and of nvidia-smi logs (GPU columns)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from recordings.catalog import catalog_row
from recordings.errors import InputError
from recordings.importers import import_file

TTS = """timestamp,request_id,text_length,duration_s,audio_duration_s,rtf,peak_memory_mb,success,error,quantization_used,hardware_tier,device_type,cpu_model,gpu_name
2025-10-28T10:00:02.000000,r1,120,2.0,4.0,0.5,812.5,True,,int8,intel_i5,cpu,Intel(R) Core(TM) i5-8250U,
2025-10-28T10:00:05.500000,r2,300,3.0,2.0,1.5,900.0,True,,int8,intel_i5,cpu,Intel(R) Core(TM) i5-8250U,
2025-10-28T10:00:09.000000,r3,50,1.0,,,700.0,False,CUDA out of memory,fp16,intel_i5,cpu,Intel(R) Core(TM) i5-8250U,
"""


def test_tts_requests_become_a_session_of_spans(tmp_path):
    source = tmp_path / "synthesis_20251028.csv"
    source.write_text(TTS)
    session, item = import_file(source, tmp_path / "sessions")
    assert item.layout == "tts requests" and not (session / "samples.parquet").exists()
    spans = pl.read_parquet(session / "spans.parquet")
    assert spans["request_id"].to_list() == ["r1", "r2", "r3"]
    assert spans["total_duration_s"].to_list() == [2.0, 3.0, 1.0]
    assert spans["text_length_chars"].to_list() == [120, 300, 50]
    assert spans["rtf"].to_list() == [0.5, 1.5, None]  # total_duration_s / audio_s
    assert spans["success"].to_list() == [True, True, False]
    assert spans["error_message"].to_list() == [None, None, "CUDA out of memory"]
    assert spans["quantization_used"].to_list() == ["int8", "int8", "fp16"]  # an attribute column
    # `timestamp` is when the request finished: the span started duration_s before.
    assert spans["start_time"][0].isoformat() == "2025-10-28T10:00:00+00:00"
    assert spans["end_time"][0].isoformat() == "2025-10-28T10:00:02+00:00"
    meta = json.loads((session / "meta.json").read_text())
    assert meta["summary"]["spans"]["total"] == 3 and meta["summary"]["spans"]["failed"] == 1
    assert meta["summary"]["spans"]["avg_rtf"] == pytest.approx(1.0)
    assert meta["host"]["hardware_tier"] == "intel_i5" and meta["host"]["device_type"] == "cpu"
    row = catalog_row(session)
    assert (row["status"], row["spans"], row["samples"], row["tier"]) == ("imported", 3, 0, "intel_i5")


def test_a_file_imported_before_is_not_imported_again(tmp_path, rig):
    source = tmp_path / "synthesis_20251028.csv"
    source.write_text(TTS)
    root = tmp_path / "sessions"
    first = rig("import", str(source), "--dir", str(root))
    (session,) = root.iterdir()
    assert first.returncode == 0 and first.stdout.startswith(f"{source}: tts requests, 3 spans -> {session}")
    copy = tmp_path / "again.csv"  # the same contents under another name
    copy.write_text(TTS)
    again = rig("import", str(copy), "--dir", str(root))
    assert again.returncode == 0 and again.stdout == f"{copy}: imported before, as {session} (skipped)\n"
    assert list(root.iterdir()) == [session]
    source.write_text(TTS.replace("r3,50", "r3,51"))  # changed contents: a new session
    assert rig("import", str(source), "--dir", str(root)).returncode == 0 and len(list(root.iterdir())) == 2


def test_tts_csv_without_durations_names_what_it_needs(tmp_path):
    source = tmp_path / "synthesis_bad.csv"
    source.write_text("timestamp,request_id,text_length\n2025-10-28T10:00:00,r1,3\n")
    with pytest.raises(InputError, match="without duration_s or total_duration_s"):
        import_file(source, tmp_path / "sessions")
    assert not (tmp_path / "sessions").exists()


QUERY = """timestamp, name, index, utilization.gpu [%], utilization.memory [%], temperature.gpu, power.draw [W], power.limit [W], memory.used [MiB], memory.total [MiB], clocks.sm [MHz], pstate, fan.speed [%]
2025/10/28 10:00:00.100, NVIDIA GeForce RTX 3060 Ti, 0, 35 %, 10 %, 55, 80.50 W, 200.00 W, 2048 MiB, 8192 MiB, 1800 MHz, P2, 40 %
2025/10/28 10:00:00.100, NVIDIA GeForce RTX 3060 Ti, 1, 0 %, 0 %, 40, 15.00 W, 200.00 W, 0 MiB, 8192 MiB, 210 MHz, P8, [N/A]
2025/10/28 10:00:01.100, NVIDIA GeForce RTX 3060 Ti, 0, 99 %, 60 %, 70, 195.25 W, 200.00 W, 6000 MiB, 8192 MiB, 1905 MHz, P0, 75 %
2025/10/28 10:00:01.100, NVIDIA GeForce RTX 3060 Ti, 1, 5 %, 1 %, 41, 20.00 W, 200.00 W, 100 MiB, 8192 MiB, 300 MHz, P8, [N/A]
"""


def _nounits(text: str) -> str:
    lines = text.splitlines()
    header = ", ".join(h.split(" [")[0] for h in lines[0].split(", "))
    body = [", ".join(c.split(" ")[0] if c[:1].isdigit() and c.count(" ") == 1 and "/" not in c else c
                      for c in line.split(", ")) for line in lines[1:]]
    return "\n".join([header, *body]) + "\n"


@pytest.mark.parametrize("variant", ["units", "nounits", "noheader"])
def test_nvidia_smi_query_logs_become_gpu_columns(tmp_path, variant):
    text = {"units": QUERY, "nounits": _nounits(QUERY), "noheader": "".join(QUERY.splitlines(True)[1:])}[variant]
    source = tmp_path / "gpu.log"
    source.write_text(text)
    fields = ["timestamp", "name", "index", "utilization.gpu", "utilization.memory", "temperature.gpu", "power.draw",
              "power.limit", "memory.used", "memory.total", "clocks.sm", "pstate", "fan.speed"]
    if variant == "noheader":
        with pytest.raises(InputError, match="without a header: give the fields"):
            import_file(source, tmp_path / "sessions")
    session, item = import_file(source, tmp_path / "sessions", fields if variant == "noheader" else None)
    samples = pl.read_parquet(session / "samples.parquet")
    assert samples.height == 2 and item.layout == "nvidia-smi query"
    assert samples["gpu0_util_pct"].to_list() == [35.0, 99.0] and samples["gpu1_util_pct"].to_list() == [0.0, 5.0]
    assert samples["gpu0_power_w"].to_list() == [80.5, 195.25] and samples["gpu0_power_limit_w"][0] == 200.0
    assert samples["gpu0_mem_used_bytes"].to_list() == [2048 * 2**20, 6000 * 2**20]
    assert samples["gpu0_pstate"].to_list() == [2, 0] and samples["gpu1_fan_pct"].to_list() == [None, None]
    assert samples["cpu_util_pct"].null_count() == 2  # nothing measured the CPU
    assert samples["gpu0_rle_smoothed"].null_count() == 0  # derived from the GPU columns
    meta = json.loads((session / "meta.json").read_text())
    assert [g["name"] for g in meta["gpus"]] == ["NVIDIA GeForce RTX 3060 Ti"] * 2
    assert meta["host"]["hardware_tier"] == "nvidia_rtx3060ti" and meta["host"]["device_type"] == "cuda"


DMON = """#Date       Time        gpu    pwr  gtemp  mtemp     sm    mem    enc    dec   mclk   pclk
#YYYYMMDD   HH:MM:SS    Idx      W      C      C      %      %      %      %    MHz    MHz
 20251028   10:00:00      0     63     45      -     12      3      0      0   6500   1410
 20251028   10:00:00      1     20     38      -      0      0      0      0    405    210
 20251028   10:00:01      0    180     60      -     97     55      0      0   6500   1905
 20251028   10:00:01      1     22     38      -      1      0      0      0    405    210
#Date       Time        gpu    pwr  gtemp  mtemp     sm    mem    enc    dec   mclk   pclk
#YYYYMMDD   HH:MM:SS    Idx      W      C      C      %      %      %      %    MHz    MHz
 20251028   10:00:02      0    175     61      -     95     50      0      0   6500   1905
 20251028   10:00:02      1     21     38      -      0      0      0      0    405    210
"""


def test_nvidia_smi_dmon_output_becomes_gpu_columns(tmp_path):
    source = tmp_path / "dmon.txt"
    source.write_text(DMON)
    session, item = import_file(source, tmp_path / "sessions")
    samples = pl.read_parquet(session / "samples.parquet")
    assert item.layout == "nvidia-smi dmon" and samples.height == 3  # the repeated header is skipped
    assert samples["gpu0_util_pct"].to_list() == [12.0, 97.0, 95.0]
    assert samples["gpu0_power_w"].to_list() == [63.0, 180.0, 175.0]
    assert samples["gpu1_clock_sm_mhz"].to_list() == [210.0] * 3
    assert samples["elapsed_s"].to_list() == [0.0, 1.0, 2.0]


def test_dmon_without_its_time_columns_says_how_to_run_it(tmp_path):
    source = tmp_path / "dmon.txt"
    source.write_text("\n".join(line[24:] if not line.startswith("#") else "# gpu    pwr  gtemp  mtemp     sm"
                                for line in DMON.splitlines()[:3]))
    with pytest.raises(InputError, match="dmon -o DT"):
        import_file(source, tmp_path / "sessions")
