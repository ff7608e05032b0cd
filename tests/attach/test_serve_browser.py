"""`rigscope serve` in a real browser: Debian's chromium, headless, driven by playwright (no browser download).

The page loads, the dashboard's header says ATTACHED, a note typed in the browser lands in the recorder's
events.jsonl; without the token, or with a wrong one, the server answers 401 before any app starts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from rigscope.monitor import Monitor, MonitorConfig
from tests.conftest import REPO, run_cli
from tests.tui.conftest import read_events
from tests.waiting import wait_sync

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TOKEN = "s3cret-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path):
    pytest.importorskip("textual_serve", reason="rigscope serve needs textual-serve (the serve extra)")
    monitor = Monitor(MonitorConfig(source="sim", gpus_sim=1, hz=10.0, duration_s=600.0, directory=str(tmp_path),
                                    attach=True))
    monitor.start()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "rigscope", "serve", "--port", str(port), "--token", TOKEN,
                               "--dir", str(tmp_path)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_sync(lambda: status(f"http://127.0.0.1:{port}/static/css/xterm.css") is not None, 20, "the server")
        yield monitor, f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)
        monitor.request_stop()
        monitor.stop()


def status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def test_a_wrong_token_gets_401_before_any_app_starts(served) -> None:
    monitor, url = served
    attached = monitor.attach.stats()["attached"]
    assert status(f"{url}/") == 401
    assert status(f"{url}/?token=wrong") == 401
    assert status(f"{url}/ws") == 401
    assert monitor.attach.stats()["attached"] == attached  # no viewer was started for them
    assert status(f"{url}/?token={TOKEN}") == 200


def test_the_page_points_where_the_browser_came_from(served) -> None:
    """Behind `ssh -L 9999:localhost:PORT` the browser asks for localhost:9999: the page must use that."""
    _, url = served
    request = urllib.request.Request(f"{url}/?token={TOKEN}", headers={"Host": "localhost:9999"})
    with urllib.request.urlopen(request, timeout=5) as response:
        page = response.read().decode()
    assert 'data-session-websocket-url="ws://localhost:9999/ws"' in page
    assert "127.0.0.1" not in page


def test_a_taken_port_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_cli("serve", "--port", str(taken.getsockname()[1]))
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "cannot listen" in result.stderr


def test_non_loopback_host_needs_a_token() -> None:
    result = run_cli("serve", "--host", "0.0.0.0")
    assert result.returncode == 2 and "--token" in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} is absent (apt-get install chromium)")
def test_the_dashboard_in_a_browser_takes_a_note(served) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the test extra)")
    monitor, url = served
    received: list[bytes] = []

    def watch(websocket) -> None:
        websocket.on("framereceived", lambda payload: received.append(
            payload if isinstance(payload, bytes) else payload.encode()))

    def shown() -> str:
        return b"".join(received).decode("utf-8", "replace")

    def wait_page(predicate, timeout: float, what: str) -> None:
        """Poll while playwright runs (its events come in only during its calls)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
            page.wait_for_timeout(100)

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("websocket", watch)
            page.goto(f"{url}/?token={TOKEN}")
            wait_page(lambda: "rigscope ATTACHED" in shown(), 30, "the dashboard's header in the page")
            wait_page(lambda: "/700 W" in shown(), 15, "live GPU power")
            page.locator(".xterm-screen").click()
            page.keyboard.press("n")
            wait_page(lambda: "Note at" in shown(), 15, "the note box")
            page.keyboard.type("typed in a browser")
            page.keyboard.press("Enter")
            wait_page(lambda: any(e.get("text") == "typed in a browser" for e in read_events(monitor.session)),
                      15, "the note in the recorder's events.jsonl")
            page.keyboard.press("r")  # read-only by default: r is off
            wait_page(lambda: "read-only" in shown(), 15, "r refused")
        finally:
            browser.close()
    assert not monitor.sampling_ended
