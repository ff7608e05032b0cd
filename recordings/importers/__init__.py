"""`rigscope import`: other tools' files as rigscope sessions (SESSION_FORMAT § legacy import).

The layout is told from the file's first line (recordings.importers.layouts: the RLE lab's
long CSVs and rigscope's long-csv export, the TTS system's per-request CSV, `nvidia-smi
--query-gpu --format=csv` logs and `nvidia-smi dmon` output). A file of another layout
fails with one line naming the columns each layout needs.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from recordings.errors import InputError
from recordings.importers import nvidia_smi
from recordings.importers.layouts import EXPECTED, detect
from recordings.importers.table import encoding_of_head
from recordings.importers.times import TimeOptions
from recordings.importers.writer import Imported, Progress, host_slug, start_us, write_imported
from recordings.safe_files import require_regular
from recordings.session import list_sessions, read_meta, sessions_dir

COMPRESSED = {b"\x1f\x8b": "gzip", b"(\xb5/\xfd": "zstd", b"BZh": "bzip2", b"\xfd7zXZ": "xz", b"PK\x03\x04": "zip"}
READ_SHARE = 0.2  # of the progress bar, for reading the file; the rest is the recompute


def _first_line(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None
    if kind := next((name for magic, name in COMPRESSED.items() if head.startswith(magic)), None):
        raise InputError(f"{path}: {kind}-compressed, not text: decompress it first and import what comes out")
    encoding = encoding_of_head(head)  # the same bytes: the file is read once
    if encoding != "utf-16" and b"\0" in head.split(b"\n", 1)[0]:  # later on: a power loss's zero padding
        raise InputError(f"{path}: not a text file; expected {EXPECTED}")
    return next((line for line in head.decode(encoding, "replace").splitlines() if line.strip()), "")


def read_file(path: Path, fields: list[str] | None = None, times: TimeOptions | None = None) -> Imported:
    """What `path` holds, read by the importer of its layout; `times` says how naive and ambiguous times read."""
    times = times or TimeOptions()
    first = _first_line(path)
    if not first.strip():
        raise InputError(f"{path}: empty file")
    if fields:
        return nvidia_smi.read_query(path, fields, times)
    layout = detect(first)
    if layout is None and detect(first.replace(";", ",")) is not None:
        raise InputError(f"{path}: cells separated by ';' (a spreadsheet's export in a decimal-comma locale?): "
                         "save it as CSV with ',' between cells and '.' in numbers")
    if layout is None:
        header = [name.strip() for name in first.split(",")]
        shown = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
        raise InputError(f"{path}: unknown layout (columns {shown}); expected {EXPECTED}")
    return layout.read(path, None, times)


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None
    return digest.hexdigest()


def imported_before(root: Path, digest: str) -> Path | None:
    """The session under `root` already imported from a file with these contents, if any."""
    for session in list_sessions(root):
        try:
            imported = read_meta(session).get("imported")
        except InputError:
            continue
        if isinstance(imported, dict) and imported.get("sha256") == digest:
            return session
    return None


def root_for(into: str | Path, item: Imported) -> Path:
    """The sessions directory `into`, its `{host}` and `{date}` those of the imported session."""
    if "{host}" not in str(into) and "{date}" not in str(into):
        return Path(into)
    first = datetime.fromtimestamp(start_us(item) / 1e6, UTC)
    return sessions_dir(into, now=first, host=host_slug(item.host.get("hostname")))


def import_file(path: Path, into: str | Path, fields: list[str] | None = None, on_progress: Progress = None,
                times: TimeOptions | None = None, host: str | None = None) -> tuple[Path, Imported | None]:
    """Import one file into a new session under `into`; its directory and what was read.

    `into` may hold `{host}` and `{date}`: the imported session's host (`host`, else the file's) and the
    date of its first sample. A file whose contents were imported there before is not imported again:
    the earlier session comes back, with None. `on_progress` is told the fraction done: 0.2 once the
    file is read, 1.0 when the session is written."""
    require_regular(path)  # a FIFO, a device or a directory named as a log is said as such, never opened
    digest = _digest(path)
    templated = "{host}" in str(into) or "{date}" in str(into)
    if not templated and (earlier := imported_before(Path(into), digest)) is not None:
        return earlier, None
    reading = (times or TimeOptions()).fresh()
    item = read_file(path, fields, reading)
    item.sha256 = digest
    if host:
        item.host["hostname"] = host
    root = root_for(into, item)
    if templated and (earlier := imported_before(root, digest)) is not None:
        return earlier, None
    item.notes += reading.notes
    if reading.naive:
        item.reading["naive_times_zone"] = reading.zone
    if reading.decided_order or reading.date_order:
        item.reading["date_order"] = reading.decided_order or reading.date_order
    tell = on_progress or (lambda fraction: None)
    tell(READ_SHARE)
    session = write_imported(item, root, lambda fraction: tell(READ_SHARE + (1 - READ_SHARE) * fraction))
    tell(1.0)
    return session, item
