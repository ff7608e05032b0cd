"""The file layouts `rigscope import` accepts, in the order they are tried: the one list that tells them
apart (docs/session-format.md shows an example of each, and the tests read each example back).

A layout is told from the file's first line (its header, or its first row); `--fields` names the
columns of a headerless nvidia-smi query log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from recordings.errors import InputError
from recordings.importers import nvidia_smi, tts
from recordings.importers.rle import read_rle
from recordings.importers.table import read_text_csv
from recordings.importers.times import TimeOptions
from recordings.importers.writer import Imported
from recordings.longcsv import REQUIRED

Reader = Callable[[Path, list[str] | None, TimeOptions], Imported]


@dataclass(frozen=True)
class Layout:
    name: str
    needs: str  # what a file of this layout must have, for the line that refuses an unknown one
    example: str  # the start of such a file
    matches: Callable[[str, list[str]], bool]  # (first line, its comma-separated cells stripped)
    read: Reader


def _rle(path: Path, fields: list[str] | None, times: TimeOptions) -> Imported:
    raw, torn = read_text_csv(path)
    missing = [name for name in REQUIRED if name not in raw.columns]
    if missing:
        raise InputError(f"{path}: an RLE lab CSV without {', '.join(missing)} (it needs {', '.join(REQUIRED)})")
    return read_rle(path, raw, torn, times)


LAYOUTS = (
    Layout("nvidia-smi dmon", "nvidia-smi dmon (#Date Time gpu ...)",
           "#Date       Time        gpu    pwr  gtemp  mtemp    sm   mem\n"
           "#YYYYMMDD   HH:MM:SS    Idx      W      C      C     %     %\n"
           " 20251028   10:00:00      0    250     71      -    98    40\n",
           lambda first, header: nvidia_smi.is_dmon(first), lambda path, fields, times: nvidia_smi.read_dmon(path, times)),
    Layout("nvidia-smi query without a header (give --fields)", "",
           "2025/10/28 10:00:00.100, 0, 35 %, 61, 250.12 W\n",
           lambda first, header: nvidia_smi.is_headerless_query(first), nvidia_smi.read_query),
    Layout("RLE lab long CSV (and rigscope's long-csv export)", f"RLE lab long CSV ({', '.join(REQUIRED)})",
           "timestamp,device,rle_smoothed,rle_raw,E_th,E_pw,temp_c,power_w,util_pct,a_load,...\n"
           "2025-10-28T08:00:00.123456,cpu,0.41,0.40,0.95,0.61,55.0,48.2,37.5,0.39,...\n",
           lambda first, header: "device" in header and "timestamp" in header, _rle),
    Layout("TTS requests", f"TTS requests ({', '.join(tts.REQUIRED)})",
           "request_id,hardware_tier,start_time,end_time,total_duration_s,audio_duration_s,success,...\n"
           "ed744d7d,m1_air,1763368965.8129687,1763368969.9,4.09,5.2,True,...\n",
           lambda first, header: "request_id" in header,
           lambda path, fields, times: tts.read_requests(path, *read_text_csv(path), times)),
    Layout("nvidia-smi query", "nvidia-smi --query-gpu (timestamp and fields such as utilization.gpu)",
           "timestamp, index, name, pci.bus_id, utilization.gpu [%], temperature.gpu, power.draw [W]\n"
           "2025/10/28 10:00:00.100, 0, NVIDIA H100 80GB HBM3, 00000000:18:00.0, 35 %, 61, 250.12 W\n",
           lambda first, header: nvidia_smi.is_query_header(header), nvidia_smi.read_query),
)
EXPECTED = ", ".join(layout.needs for layout in LAYOUTS if layout.needs)


def detect(first: str) -> Layout | None:
    """The layout of a file that starts with the line `first`."""
    header = [name.strip() for name in first.split(",")]
    return next((layout for layout in LAYOUTS if layout.matches(first, header)), None)
