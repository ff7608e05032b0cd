"""The terminal driver's input thread: asleep until input comes, yet a lone Esc is still a key, and it stops."""

from __future__ import annotations

import asyncio
import os
import pty
import selectors
import signal
import threading
import tty
from typing import Any

import pytest
from textual import events

from tests.waiting import wait_sync
from tui.quiet_driver import QuietLinuxDriver


class Recording(QuietLinuxDriver):
    """The driver on a pty, keeping what it would post to the app."""

    def __init__(self, fileno: int) -> None:
        super().__init__(None)  # type: ignore[arg-type]  (no app: messages are kept here)
        self.fileno = fileno
        self.posted: list[Any] = []

    def process_message(self, message: Any) -> None:
        self.posted.append(message)

    def keys(self) -> list[str]:
        return [message.key for message in self.posted if isinstance(message, events.Key)]


@pytest.fixture
def driver(monkeypatch: pytest.MonkeyPatch) -> Any:
    waits: list[float | None] = []
    select = selectors.SelectSelector.select

    def recorded_select(self: selectors.SelectSelector, timeout: float | None = None) -> Any:
        waits.append(timeout)
        return select(self, timeout)

    monkeypatch.setattr(selectors.SelectSelector, "select", recorded_select)
    handlers = {number: signal.getsignal(number) for number in (signal.SIGTSTP, signal.SIGCONT)}
    master, slave = pty.openpty()
    tty.setraw(slave)  # as the app puts its terminal: a key is readable at once, not at the end of a line
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    async def make() -> Recording:
        return Recording(slave)

    made = loop.run_until_complete(make())
    thread = threading.Thread(target=made.run_input_thread, daemon=True)
    thread.start()
    try:
        yield made, master, waits, thread
    finally:
        made.exit_event.set()
        thread.join(5)
        made.close()
        for fd in (master, slave):
            os.close(fd)
        loop.close()
        asyncio.set_event_loop(None)
        for number, handler in handlers.items():
            signal.signal(number, handler)


def test_idle_it_waits_without_a_timeout_and_a_key_still_arrives(driver):
    made, master, waits, _thread = driver
    wait_sync(lambda: waits, 5, "the first wait")
    assert waits[0] is None  # Textual's own thread polls every 0.1 s
    os.write(master, b"a")
    wait_sync(lambda: "a" in made.keys(), 5, "the key a")
    assert all(timeout is None for timeout in waits)  # nothing half-typed: never a timed wait


def test_a_lone_escape_is_a_key_once_nothing_follows_it(driver):
    made, master, waits, _thread = driver
    os.write(master, b"\x1b")
    wait_sync(lambda: "escape" in made.keys(), 5, "the escape key")
    assert any(timeout is not None for timeout in waits)  # a timed wait while the sequence might go on


def test_stopping_input_wakes_the_thread_at_once(driver):
    made, _master, waits, thread = driver
    wait_sync(lambda: waits, 5, "the first wait")
    made.exit_event.set()
    thread.join(5)
    assert not thread.is_alive()


def test_after_closing_no_descriptor_is_written_or_closed_again(driver):
    """The pipe's numbers may belong to another file by then (a session's journal): set and close touch nothing."""
    made, _master, waits, thread = driver
    wait_sync(lambda: waits, 5, "the first wait")
    made.exit_event.set()
    thread.join(5)
    made.close()
    reader, writer = os.pipe()  # likely given the numbers the driver just closed
    try:
        os.set_blocking(reader, False)
        made.exit_event.set()
        made.close()
        os.write(writer, b"x")
        assert os.read(reader, 8) == b"x"  # still open, and nothing else was written into it
    finally:
        os.close(reader)
        os.close(writer)
