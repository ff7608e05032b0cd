"""Parsing and checking of command-line values: durations, rates, GPU lists, speeds."""

from __future__ import annotations

import argparse
import math
import re

from collectors.timeutil import parse_duration

MIN_HZ, MAX_HZ = 0.1, 100.0
MAX_SECONDS = 86_400.0  # an interval or time-out: a day at most (they become integer microseconds and timestamps)
MAX_DURATION_S = 366 * 86_400.0  # a duration (--duration, --baseline, --window): a year at most
MAX_SPEED = 100_000.0  # the simulation's speed-up: a simulated day in under a second
NEGATIVE = "negative values are not allowed"


def duration(text: str) -> float:
    """`30s`, `10m`, `2h`, `1h30m`, or plain seconds."""
    total = phase_duration(text)
    if total <= 0:
        raise argparse.ArgumentTypeError(f"invalid duration '{text}' (use e.g. 30s, 10m, 2h)")
    return total


def _number(text: str, invalid: str) -> float:
    """A finite number: `nan` and `inf` are refused like any other word."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(invalid) from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number")
    return value


def hz(text: str) -> float:
    value = _number(text, f"invalid rate '{text}' (a number of samples per second)")
    if not MIN_HZ <= value <= MAX_HZ:
        raise argparse.ArgumentTypeError(f"rate {text} Hz is out of range ({MIN_HZ:g} to {MAX_HZ:g})")
    return value


def positive(text: str) -> float:
    value = _number(text, f"invalid number '{text}'")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be greater than 0")
    return value


def _at_most_a_day(text: str, value: float) -> float:
    if value > MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"{text} s is more than a day ({MAX_SECONDS:g} s)")
    return value


def seconds(text: str) -> float:
    """An interval or time-out in seconds: more than 0, a day at most."""
    return _at_most_a_day(text, positive(text))


def gpm_interval(text: str) -> float:
    """Seconds between GPM samples: NVML needs more than 0.1 s between two."""
    value = _number(text, f"invalid interval '{text}' (seconds)")
    if not value > 0.1:
        raise argparse.ArgumentTypeError(f"--gpm-interval {text} must be more than 0.1 s (NVML's GPM refresh)")
    return _at_most_a_day(text, value)


def count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"invalid count '{text}' (a whole number, 0 or more)")
    return int(text)


def speed(text: str) -> float | None:
    """A speed-up factor up to MAX_SPEED, or `max` (None): as fast as the machine goes."""
    if text.strip().lower() == "max":
        return None
    value = positive(text)
    if value > MAX_SPEED:
        raise argparse.ArgumentTypeError(f"{text} is more than {MAX_SPEED:g} (use max for as fast as it goes)")
    return value


def gpu_count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 16:
        raise argparse.ArgumentTypeError(f"--gpus-sim must be 1 to 16, not '{text}'")
    return int(text)


def gpu_list(text: str) -> str:
    """`0,2` or `GPU-8f3a...,1`: NVML indexes or (prefixes of) GPU UUIDs; which exist is checked on the GPUs."""
    entry = r"(\d+|GPU-[0-9A-Za-z-]+)"
    if not re.fullmatch(rf"{entry}(,{entry})*", text.replace(" ", "")):
        raise argparse.ArgumentTypeError(f"invalid GPU list '{text}' (NVML indexes or GPU-... UUIDs, e.g. 0,2)")
    return text.replace(" ", "")


def fps(text: str) -> float:
    value = positive(text)
    if not 0.2 <= value <= 30:
        raise argparse.ArgumentTypeError(f"--fps {text} is out of range (0.2 to 30)")
    return value


REPLAY_SPEEDS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1000.0)


def replay_speed(text: str) -> float | None:
    value = speed(text.lstrip("xX"))
    if value is not None and value not in REPLAY_SPEEDS:
        raise argparse.ArgumentTypeError(f"--speed {text}: use one of {', '.join(f'{s:g}' for s in REPLAY_SPEEDS)} or max")
    return value


def udp_port(text: str) -> int:
    """`--probe-udp PORT`: a port number, 0 for any free one."""
    if not text.strip().isdigit() or not 0 <= int(text) < 65536:
        raise argparse.ArgumentTypeError(f"invalid --probe-udp port '{text}' (a port number, 0 to 65535)")
    return int(text)


def port(text: str) -> int:
    """A TCP port to listen on, 1 to 65535."""
    if not text.strip().isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"invalid port '{text}' (1 to 65535)")
    return int(text)


def http_address(text: str) -> tuple[str, int]:
    """`--http [HOST:]PORT`: `9700`, `0.0.0.0:9700`, `[::1]:9700`; the host defaults to 127.0.0.1."""
    invalid = f"invalid --http '{text}' (use PORT or HOST:PORT, e.g. 9700 or 0.0.0.0:9700; [::1]:9700 for IPv6)"
    value = text.strip()
    bracketed = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)", value)
    if bracketed:
        host, port = bracketed.groups()
    elif value.isdigit():
        host, port = "127.0.0.1", value
    else:
        host, _, port = value.rpartition(":")
        if not host or ":" in host or not port.isdigit() or not re.fullmatch(r"[A-Za-z0-9.-]+", host):
            raise argparse.ArgumentTypeError(invalid)
    if not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"--http port {port} is out of range (0 to 65535)")
    return host, int(port)


def phase_duration(text: str) -> float:
    """Like `duration`, but 0 is allowed: `--baseline 0` skips the baseline. A year at most."""
    if text.strip().startswith("-"):
        raise argparse.ArgumentTypeError(f"{text}: {NEGATIVE}")
    try:
        total = parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if total > MAX_DURATION_S:
        raise argparse.ArgumentTypeError(f"{text} is more than a year")
    return total


def repeat_count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError(f"--repeat must be 1 to 1000, not '{text}'")
    return int(text)


_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2, "mib": 1024**2,
               "g": 1024**3, "gb": 1024**3, "gib": 1024**3}


def byte_size(text: str) -> int:
    """`10M`, `512K`, `1G` (binary units) or plain bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    if match is None or match.group(2).lower() not in _SIZE_UNITS:
        raise argparse.ArgumentTypeError(f"invalid size '{text}' (use e.g. 10M, 512K, or bytes)")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def key_list(text: str) -> list[str]:
    """`HOME,CUDA_VISIBLE_DEVICES`: environment variable names."""
    keys = [key.strip() for key in text.split(",") if key.strip()]
    bad = [key for key in keys if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key)]
    if bad or not keys:
        raise argparse.ArgumentTypeError(f"invalid --env-keys '{text}' (use e.g. CUDA_VISIBLE_DEVICES,OMP_NUM_THREADS)")
    return keys


def text(value: str) -> str:
    """A note's text or a tag's name: anything but empty or blank."""
    if not value.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return value
