"""Parsing and checking of command-line values: durations, rates, GPU lists, speeds."""

from __future__ import annotations

import argparse
import re

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

MIN_HZ, MAX_HZ = 0.1, 100.0


def duration(text: str) -> float:
    """`30s`, `10m`, `2h`, `1h30m`, or plain seconds."""
    value = text.strip().lower()
    position, total = 0, 0.0
    for match in _DURATION.finditer(value):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if not value or position != len(value) or total <= 0:
        raise argparse.ArgumentTypeError(f"invalid duration '{text}' (use e.g. 30s, 10m, 2h)")
    return total


def hz(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid rate '{text}' (a number of samples per second)") from None
    if not MIN_HZ <= value <= MAX_HZ:
        raise argparse.ArgumentTypeError(f"rate {text} Hz is out of range ({MIN_HZ:g} to {MAX_HZ:g})")
    return value


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number '{text}'") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be greater than 0")
    return value


def speed(text: str) -> float | None:
    """A speed-up factor, or `max` (None): as fast as the machine goes."""
    return None if text.strip().lower() == "max" else positive(text)


def gpu_count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 16:
        raise argparse.ArgumentTypeError(f"--gpus-sim must be 1 to 16, not '{text}'")
    return int(text)


def gpu_list(text: str) -> str:
    if not re.fullmatch(r"\d+(,\d+)*", text.replace(" ", "")):
        raise argparse.ArgumentTypeError(f"invalid GPU list '{text}' (use e.g. 0,2)")
    return text.replace(" ", "")


def fps(text: str) -> float:
    value = positive(text)
    if not 0.2 <= value <= 30:
        raise argparse.ArgumentTypeError(f"--fps {text} is out of range (0.2 to 30)")
    return value
