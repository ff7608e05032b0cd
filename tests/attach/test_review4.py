"""Review 4 of attach and serve: what a check whether a recorder is alive costs it, viewers of another user,
viewers that go away mid-message, `rigscope serve` after its recorder ended."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from recordings.errors import InputError
from rigscope.attach_client import AttachClient
from rigscope.local_channel import alive, live_attach_points
from rigscope.monitor import Monitor, MonitorConfig
from rigscope.record_command import status_line
from rigscope.serve import attach as attach_module
from tests.attach.test_serve_browser import TOKEN, free_port, status
from tests.conftest import REPO
from tests.waiting import wait_sync


def recorder(tmp_path: Path) -> Monitor:
    monitor = Monitor(MonitorConfig(source="sim", hz=10.0, duration_s=600.0, directory=str(tmp_path), attach=True))
    monitor.start()
    return monitor


def test_a_liveness_check_is_no_viewer_and_is_sent_nothing(tmp_path: Path, monkeypatch) -> None:
    """`rigscope attach`, `serve` and the dashboard's offer check which recorders are alive by connecting:
    each check was counted as a viewer (the status line said `viewers 0` ever after) and sent the session
    and the recent batches, each encoded for it alone."""
    monitor = recorder(tmp_path)
    publisher = monitor.attach
    encoded: list[int] = []
    real = attach_module.protocol.encode_batch
    monkeypatch.setattr(attach_module.protocol, "encode_batch", lambda *a: encoded.append(1) or real(*a))
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        wait_sync(lambda: len(publisher._recent) >= 5, what="recent batches in the ring")
        for _ in range(5):
            assert alive(publisher.path, socket.SOCK_STREAM)
        session = publisher._session.hello()["session"]
        assert [name for name, _ in live_attach_points()] == [session]
        silent.connect(publisher.path)  # connected, and never asks to attach
        assert "viewers" not in status_line(monitor)
        viewer = AttachClient(publisher.path)  # a viewer that asks is one, as before (accepted after the others)
        assert viewer.hello["session"] == session
        wait_sync(lambda: "| viewers 1" in status_line(monitor), what="the viewer counted")
        assert publisher.stats()["attached"] == 1  # the checks and the silent one are no viewers
        assert len(encoded) <= len(publisher._recent) + 20  # the recent batches for the viewer alone
        silent.setblocking(False)
        try:
            assert silent.recv(100) == b"", "the silent connection was sent something"
        except BlockingIOError:
            pass  # nothing sent to it: right
        viewer.close()
    finally:
        silent.close()
        monitor.request_stop()
        monitor.stop()


def serve(tmp_path: Path, *session: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "rigscope", "serve", *session, "--port", str(port),
                               "--token", TOKEN, "--dir", str(tmp_path)], cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_sync(lambda: status(f"{url}/static/css/xterm.css") is not None, 20, "the server")
    return server, url


def page(url: str) -> tuple[int, str]:
    """The page at `url` with the token."""
    try:
        with urllib.request.urlopen(f"{url}?token={TOKEN}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def tab_attaches(url: str, attached: Callable[[], bool]) -> bool:
    """What a browser tab does after the page: open the websocket that starts its dashboard; whether
    `attached` comes true within 30 s while it is open."""
    import asyncio

    import aiohttp

    async def tab() -> bool:
        async with aiohttp.ClientSession() as session, session.ws_connect(f"{url}/ws?width=80&height=24&token={TOKEN}") as ws:
            deadline = time.monotonic() + 30
            while not attached():
                if time.monotonic() > deadline:
                    return False
                try:
                    await asyncio.wait_for(ws.receive(), 0.2)  # read what the dashboard draws
                except TimeoutError:
                    pass
            return True

    return asyncio.run(tab())


def test_serve_follows_the_newest_recorder_and_a_pinned_serve_says_its_recorder_ended(tmp_path: Path) -> None:
    """Before, `serve` ran `rigscope attach ID` of the recorder it found at start for every tab: once that
    recorder ended, a new tab got a blank terminal (the error went to serve's stderr)."""
    pytest.importorskip("textual_serve", reason="rigscope serve needs textual-serve (the serve extra)")
    first = recorder(tmp_path)
    ended = first.attach._session.hello()["session"]
    following, url = serve(tmp_path)
    pinned, pinned_url = serve(tmp_path, ended)
    second = None
    try:
        assert page(f"{url}/")[0] == 200 and page(f"{pinned_url}/")[0] == 200
        first.request_stop()
        first.stop()
        code, text = page(f"{url}/")
        assert code == 503 and text.startswith("rigscope serve: no recorder is running now"), text
        assert page(f"{url}/ws")[0] == 503  # a page left open, reconnecting: no dashboard started either
        code, text = page(f"{pinned_url}/")
        assert code == 410 and text == f"rigscope serve: the recorder of {ended} has ended " \
                                       f"(its session: rigscope replay {ended})\n", text
        second = recorder(tmp_path)
        assert page(f"{pinned_url}/")[0] == 410  # pinned: never another recorder
        code, text = page(f"{url}/")
        assert code == 200 and "data-session-websocket-url" in text
        new = second
        assert tab_attaches(url, lambda: new.attach.stats()["viewers"] == 1)  # a new tab: the new recorder
    finally:
        for server in (following, pinned):
            server.terminate()
            server.wait(10)
        first.request_stop()
        first.stop()
        if second is not None:
            second.request_stop()
            second.stop()


def test_a_viewer_past_the_cap_is_told_why(tmp_path: Path, monkeypatch) -> None:
    """The viewer after the 64th was closed without a word: `rigscope attach` said 'Connection reset by peer'
    (or that the recorder may be ending)."""
    monkeypatch.setattr(attach_module, "MAX_VIEWERS", 2)
    monitor = recorder(tmp_path)
    viewers = [AttachClient(monitor.attach.path) for _ in range(2)]
    try:
        with pytest.raises(InputError, match=r": 2 viewers are attached already$"):
            AttachClient(monitor.attach.path)
        assert monitor.attach.stats()["refused_full"] == 1 and monitor.attach.stats()["viewers"] == 2
    finally:
        for viewer in viewers:
            viewer.close()
        monitor.request_stop()
        monitor.stop()


def test_a_viewer_that_floods_its_input_is_dropped_before_it_is_read(tmp_path: Path) -> None:
    """Each line a viewer sends is parsed in the publisher's thread, under the interpreter lock the sampler
    needs: a viewer sending lines as fast as it could held a 100 Hz recorder's ticks up to 66 ms late."""
    said: list[str] = []
    monitor = Monitor(MonitorConfig(source="sim", hz=10.0, duration_s=600.0, directory=str(tmp_path), attach=True),
                      on_notice=said.append)
    monitor.start()
    flood = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        flood.connect(monitor.attach.path)
        flood.sendall(b'{"t": "attach"}\n')
        try:
            flood.sendall(b'{"t": "nope"}\n' * 5000)
        except OSError:
            pass  # dropped while it was still sending
        wait_sync(lambda: monitor.attach.stats()["dropped"] == 1, what="the flooding viewer dropped")
        assert monitor.attach.stats()["rejected"] <= attach_module.IN_LINES_PER_S  # not each line parsed
        assert any("dropped: it sent over 100 lines" in line for line in said), said
        viewer = AttachClient(monitor.attach.path)  # the others are served as before
        viewer.close()
    finally:
        flood.close()
        monitor.request_stop()
        monitor.stop()


def test_the_recent_batches_are_encoded_once_however_many_viewers_join(tmp_path: Path, monkeypatch) -> None:
    """Each viewer that joined had the recent batches (5 s: 500 at 100 Hz) encoded for it alone: 60 viewers
    joining at once held a 100 Hz recorder's ticks up to 11 ms late (5 ms now)."""
    from collectors.stream import Batch, FrameStream, StreamPolicy
    from tests.attach.test_publisher import FakeSession, connect

    def frames(reader: Any, count: int) -> list[float]:
        """The `elapsed_s` of the next `count` batches a viewer reads (hello and state lines skipped)."""
        seen: list[float] = []
        while len(seen) < count:
            message = json.loads(reader.readline())
            if message["t"] == "batch":
                seen.append(message["frame"]["elapsed_s"])
        return seen

    encoded: list[int] = []
    real = attach_module.protocol.encode_batch
    monkeypatch.setattr(attach_module.protocol, "encode_batch", lambda *a: encoded.append(1) or real(*a))
    stream = FrameStream(StreamPolicy(10.0))
    publisher = attach_module.AttachPublisher(stream.subscribe(attach_module.ATTACH), FakeSession(),
                                              str(tmp_path / "s.attach"), 10.0)
    publisher.start()
    try:
        for i in range(5):
            stream.publish(Batch({"elapsed_s": i / 10}))
        wait_sync(lambda: len(publisher._recent) == 5, what="the batches taken")
        viewers = [connect(publisher.path).makefile("rb") for _ in range(3)]
        for viewer in viewers:
            assert frames(viewer, 5) == [0.0, 0.1, 0.2, 0.3, 0.4]
        assert len(encoded) == 5  # not 15
        stream.publish(Batch({"elapsed_s": 0.5}))
        assert all(frames(viewer, 1) == [0.5] for viewer in viewers)
        late = connect(publisher.path).makefile("rb")  # the live one's line, sent to the others, kept for it
        assert frames(late, 6) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
        assert len(encoded) == 6
    finally:
        stream.close()
        publisher.join(5.0)


def _serving(tmp_path: Path, token: str) -> tuple[Any, int, subprocess.Popen]:
    """A recorder, and `rigscope serve` on it behind `token` (its output piped): the recorder, port and server."""
    pytest.importorskip("textual_serve", reason="rigscope serve needs textual-serve (the serve extra)")
    monitor = recorder(tmp_path)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "rigscope", "serve", "--port", str(port), "--token", token,
                               "--dir", str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    return monitor, port, server


def test_serve_writes_no_access_log_and_so_never_the_token(tmp_path: Path) -> None:
    """textual-serve's access log wrote each request's URL on serve's output (a log file under nohup or
    systemd), the `/?token=TOKEN` of every page load among them."""
    monitor, port, server = _serving(tmp_path, "tok3n-x")
    try:
        url = f"http://127.0.0.1:{port}"
        wait_sync(lambda: status(f"{url}/?token=tok3n-x") == 200, 20, "the page")
        assert status(f"{url}/?token=wrong") == 401
    finally:
        server.terminate()
        out, err = server.communicate(timeout=10)
        monitor.request_stop()
        monitor.stop()
    assert err.count("tok3n-x") == 1 and err.startswith("rigscope: serving rigscope attach"), err  # the banner only
    assert "GET /" not in err + out and "tok3n-x" not in out, out


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="another user needs root and setpriv")
def test_serve_on_loopback_is_closed_to_the_other_users_of_the_box(tmp_path: Path) -> None:
    """Any user of the box reaches a loopback port: without --token, `nobody` got the dashboard on your
    recorder (your processes, your session to write notes in; with --allow-actions, k ended your processes)."""
    pytest.importorskip("textual_serve", reason="rigscope serve needs textual-serve (the serve extra)")
    monitor = recorder(tmp_path)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "rigscope", "serve", "--port", str(port), "--allow-actions",
                               "--dir", str(tmp_path)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_sync(lambda: status(f"{url}/static/css/xterm.css") is not None, 20, "the server")
        other = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "curl", "-s", "-o", "/dev/null",
                 "-w", "%{http_code}"]
        assert subprocess.run([*other, f"{url}/"], capture_output=True, text=True, timeout=20).stdout == "401"
        assert subprocess.run([*other, "-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H",
                               "Sec-WebSocket-Version: 13", "-H", "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==",
                               f"{url}/ws"], capture_output=True, text=True, timeout=20).stdout == "401"
        assert monitor.attach.stats()["attached"] == 0
    finally:
        server.terminate()
        _, err = server.communicate(timeout=10)
        monitor.request_stop()
        monitor.stop()
    token = re.search(r"/\?token=([\w-]{16,})$", err, re.MULTILINE)  # made at start, in the banner: yours to open
    assert token is not None, err


def test_a_connection_that_never_asks_to_attach_is_closed_uncounted(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(attach_module, "JOIN_WAIT_S", 0.3)
    monitor = recorder(tmp_path)
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        silent.connect(monitor.attach.path)
        silent.settimeout(10.0)
        assert silent.recv(100) == b""  # closed by the recorder, nothing sent
        assert monitor.attach.stats() == {"viewers": 0, "attached": 0, "dropped": 0, "refused_uid": 0,
                                          "refused_full": 0, "rejected": 0}
    finally:
        silent.close()
        monitor.request_stop()
        monitor.stop()


def test_a_recorder_that_hangs_up_before_hello_is_said_to_be_ending(tmp_path: Path) -> None:
    """A recorder between its last batch and its socket's close accepts no more: the viewer read
    'Connection reset by peer'."""
    path = str(tmp_path / "ending.attach")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as ending:
        ending.bind(path)
        ending.listen()
        hung_up = threading.Thread(target=lambda: ending.accept()[0].close())  # unread: the kernel resets
        hung_up.start()
        with pytest.raises(InputError) as refused:
            AttachClient(path)
        hung_up.join(5)
    assert str(refused.value) == f"cannot attach to {path}: the recorder did not say hello (it may be ending)"


def test_the_banners_url_opens_the_page_whatever_the_token_holds(tmp_path: Path) -> None:
    """A --token with `&`, `#` or a space printed as it is made a URL that cut the token short (a 401)."""
    monitor, port, server = _serving(tmp_path, "a&b#c d")
    try:
        banner = server.stderr.readline()
        url = re.search(r"(http://\S+)", banner)
        assert url is not None, banner
        wait_sync(lambda: status(url.group(1)) == 200, 20, "the page at the banner's URL")
    finally:
        server.terminate()
        server.communicate(timeout=10)
        monitor.request_stop()
        monitor.stop()


def test_a_bye_sent_before_the_viewers_ask_landed_is_still_read(tmp_path: Path, monkeypatch) -> None:
    """A full recorder says why and hangs up at once; when that came before the viewer's attach line was sent, the
    send failed (a broken pipe) and the viewer said 'the recorder did not say hello' instead of the reason."""
    from rigscope import attach_client
    from rigscope.serve import attach_protocol as protocol

    path = str(tmp_path / "full.attach")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    hung_up = threading.Event()
    encode = protocol.encode

    def full_recorder() -> None:
        sock, _ = listener.accept()
        sock.sendall(encode({"t": protocol.BYE, "reason": "64 viewers are attached already"}))
        sock.close()
        hung_up.set()

    server = threading.Thread(target=full_recorder)
    server.start()
    monkeypatch.setattr(attach_client.protocol, "encode",
                        lambda message: (hung_up.wait(10), encode(message))[1])  # the ask is sent after the bye
    try:
        with pytest.raises(InputError, match=r": 64 viewers are attached already$"):
            AttachClient(path)
    finally:
        server.join(5)
        listener.close()
