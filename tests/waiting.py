"""Waiting helpers shared by the TUI, replay and HTTP tests: bounded polls, never a bare sleep-and-hope."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest


def run(body: Callable[[], Awaitable[None]]) -> None:
    """Run one async test body (the suite has no asyncio plugin)."""
    asyncio.run(body())


def _poll(predicate: Callable[[], Any], deadline: float, timeout: float, what: str) -> Any:
    """`predicate()`'s value when true, None to poll again; fails once the deadline has passed."""
    value = predicate()
    if value:
        return value
    if time.monotonic() > deadline:
        raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
    return None


async def wait_until(pilot: Any, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Let the app run until `predicate()` is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while (value := _poll(predicate, deadline, timeout, what)) is None:
        await pilot.pause(0.05)
    return value


def wait_sync(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Poll `predicate()` from plain code until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while (value := _poll(predicate, deadline, timeout, what)) is None:
        time.sleep(0.02)
    return value


@pytest.fixture(autouse=True)
def no_threads_left():
    """Every test closes what it started: no rigscope thread outlives it (a conftest imports this to use it)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    while True:
        left = [t.name for t in threading.enumerate()
                if t not in before and t.is_alive() and t.name.startswith("rigscope")]
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"threads left running: {left}")
        time.sleep(0.05)
