"""The helpers every reader opens session files with: no blocking on a FIFO, no endless device, bounded JSON."""

from __future__ import annotations

import os
import threading

import pytest

from recordings.errors import InputError
from recordings.safe_files import is_regular, loads, read_bytes


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "events.jsonl"
    os.mkfifo(fifo)
    outcome: list[str] = []
    reader = threading.Thread(target=lambda: outcome.append(_error_of(fifo)), daemon=True)
    reader.start()
    reader.join(timeout=5)
    assert outcome == [f"{fifo}: a FIFO, not a file"]


def _error_of(path) -> str:
    try:
        read_bytes(path)
    except InputError as error:
        return str(error)
    return "read"


def test_devices_and_directories_are_refused(tmp_path):
    (tmp_path / "random").symlink_to("/dev/urandom")
    (tmp_path / "folder").mkdir()
    assert _error_of(tmp_path / "random") == f"{tmp_path / 'random'}: a device, not a file"
    assert _error_of(tmp_path / "folder") == f"{tmp_path / 'folder'}: a directory, not a file"
    with pytest.raises(InputError, match="a device, not a file"):
        is_regular(tmp_path / "random")
    assert is_regular(tmp_path / "missing") is False
    with pytest.raises(FileNotFoundError):
        read_bytes(tmp_path / "missing")


def test_a_size_cap(tmp_path):
    big = tmp_path / "meta.json"
    big.write_bytes(b" " * 101)
    assert read_bytes(big, 101) == b" " * 101
    with pytest.raises(InputError, match=r"meta.json: too large \(101 bytes; at most 100\)"):
        read_bytes(big, 100)


def test_json_nesting_is_bounded_and_numbers_that_are_no_reading_are_null():
    for deep in ("[" * 200_000, '{"a":' * 100_000):
        with pytest.raises(ValueError, match="nested too deeply"):
            loads(deep)
    assert loads('{"a": NaN, "b": Infinity, "c": -Infinity, "d": 1e400, "e": ' + str(10**30) + ', "f": 2.5, "g": 3}') == \
        {"a": None, "b": None, "c": None, "d": None, "e": None, "f": 2.5, "g": 3}
    assert loads('[NaN, 1e400, 7]', numbers=False) == [None, float("inf"), 7]
