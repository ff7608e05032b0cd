"""Loopback servers for the fleet tests: many nodes' `/metrics` pages, a fake Prometheus HTTP API, raw bytes.

`NodeServer` serves N simulated nodes without N processes: node k listens on its own
loopback address (127.0.x.y, all routed to `lo` on Linux) on the same ports, so nodes
have distinct names as real hosts do; one thread accepts on every socket and a thread
per connection answers (a slow node holds only its own).  Pages come from the recorded
fixtures, with the node's name written in.  `FakePrometheus` answers the fleet's own
grouped queries from per-node field values, and can answer 503 or require a token.
"""

from __future__ import annotations

import json
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from collectors.fleet import promql

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str, node: str) -> str:
    text = (FIXTURES / name).read_text()
    return text.replace('Hostname="NODE"', f'Hostname="{node}"').replace('host="sim-rig"', f'host="{node}"')


def address(k: int) -> str:
    return f"127.0.{k // 200}.{k % 200 + 2}"


@dataclass
class Node:
    address: str
    pages: dict[int, str]  # port: page
    delay_s: float = 0.0
    status: int = 200


class NodeServer:
    def __init__(self, count: int, pages: dict[str, str], node_exporter: bool = False) -> None:
        """`count` nodes serving fixture `pages["main"]` on `self.port`, node_exporter's on `self.node_port`."""
        self.port, self.node_port = _free_port(), _free_port()
        self.nodes: dict[str, Node] = {}
        self._listeners: dict[socket.socket, tuple[str, int]] = {}
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        for k in range(count):
            name = address(k)
            node_pages = {self.port: fixture(pages["main"], name)}
            if node_exporter:
                node_pages[self.node_port] = fixture("node_exporter.prom", name)
            self.nodes[name] = Node(name, node_pages)
            for port in node_pages:
                self._listen(name, port)
        self._thread = threading.Thread(target=self._accept, name="fake-nodes", daemon=True)
        self._thread.start()

    def targets(self, node_exporter: bool = False) -> list[str]:
        ports = (self.port, self.node_port) if node_exporter else (self.port,)
        return [f"{name}:{port}" for name in self.nodes for port in ports]

    def _listen(self, name: str, port: int) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((name, port))
        sock.listen(64)
        sock.setblocking(False)
        self._listeners[sock] = (name, port)
        self._selector.register(sock, selectors.EVENT_READ)

    def take_down(self, name: str) -> None:
        """The node stops listening: its next scrape is refused."""
        for sock, (node, _) in list(self._listeners.items()):
            if node == name:
                self._selector.unregister(sock)
                sock.close()
                del self._listeners[sock]

    def _accept(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.1):
                sock = key.fileobj
                where = self._listeners.get(sock)  # type: ignore[arg-type]
                if where is None:
                    continue
                try:
                    conn, _ = sock.accept()  # type: ignore[union-attr]
                except OSError:
                    continue
                threading.Thread(target=self._answer, args=(conn, *where), daemon=True).start()

    def _answer(self, conn: socket.socket, name: str, port: int) -> None:
        node = self.nodes[name]
        with conn:
            conn.setblocking(True)
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                if node.delay_s and self._stop.wait(node.delay_s):
                    return
                body = node.pages[port].encode()
                head = (f"HTTP/1.1 {node.status} {'OK' if node.status == 200 else 'Error'}\r\n"
                        f"Content-Type: text/plain; version=0.0.4\r\nContent-Length: {len(body)}\r\n"
                        "Connection: close\r\n\r\n")
                conn.sendall(head.encode() + body)
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in list(self._listeners):
            sock.close()
        self._selector.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- a fake Prometheus ---------------------------------------------------------------------------

DCGM_GPU = {"util": 0.91, "sm_active": 0.8, "tensor_active": 0.5, "dram_active": 0.6, "mem_used": 78e9,
            "mem_free": 2e9, "temp": 66.0, "power": 650.0}


@dataclass
class FakeFleet:
    """What the fake Prometheus knows: nodes (dcgm-exporter at `NAME:9400`) with 8 GPUs each."""

    nodes: int = 64
    gpus: int = 8
    down: set[str] = field(default_factory=set)
    stale: set[str] = field(default_factory=set)  # their newest sample is 10 minutes old
    idle_gpu: int | None = 7  # this GPU of every node: memory in use, no activity for 5 min
    others: tuple[str, ...] = ()  # targets up without any metric the fleet knows (job "other")
    silent: set[str] = field(default_factory=set)  # nodes of job dcgm, up, serving nothing the fleet knows
    interval_s: float = 15.0  # the scrape interval
    age_s: float = 1.0  # how old the newest sample of a live node is
    targets_list: bool = True  # False: no /api/v1/targets (Thanos, Mimir): 404

    def names(self) -> list[str]:
        return [f"gpu{k:03d}" for k in range(self.nodes)]

    def vector(self, query: str, window_s: float, now: float) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []

        def add(name: str, value: float, **labels: str) -> None:
            out.append({"metric": {"instance": f"{name}:9400", **labels}, "value": [now, repr(float(value))]})

        if query == promql.up_query(None):
            for name in self.others:
                out.append({"metric": {"instance": name}, "value": [now, "1"]})
        for name in self.names():
            if query in (promql.up_query(None), promql.up_query("dcgm")):
                add(name, 0.0 if name in self.down else 1.0)
                continue
            if name in self.down or name in self.silent:
                continue
            for gpu in range(self.gpus):
                idle = gpu == self.idle_gpu
                if query == promql.gauges_query():
                    out.append({"metric": {"instance": f"{name}:9400", "field": "model", "exporter": "dcgm",
                                           "gpu": str(gpu), "value": "NVIDIA H100 80GB HBM3"}, "value": [now, "1"]})
                    for key, value in DCGM_GPU.items():
                        add(name, 0.0 if idle and key in ("util", "sm_active") else value, field=key,
                            exporter="dcgm", gpu=str(gpu))
                elif query == promql.window_query(window_s):
                    add(name, 1.2e6, field="energy", exporter="dcgm", gpu=str(gpu))
                    add(name, 0.01 if idle else 0.95, field="active_sm_active", exporter="dcgm", gpu=str(gpu))
            if query == promql.gauges_query():
                add(name, now - (600 if name in self.stale else self.age_s), field="seen", exporter="dcgm")
            elif query == promql.window_query(window_s):
                add(name, now - 400, field="covered", exporter="dcgm")
                add(name, window_s // self.interval_s + 1, field="samples", exporter="dcgm")
        return out


class FakePrometheus:
    def __init__(self, fleet: FakeFleet, window_s: float = 600.0, token: str | None = None) -> None:
        self.fleet, self.window_s, self.token = fleet, window_s, token
        self.status = 200  # set to 503 to make every answer a 503
        self.delay_s = 0.0  # answer this late (a Prometheus under load)
        self.requests: list[str] = []
        self.queries: list[str] = []  # the `query` of each request that had one
        self.unknown: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                owner._get(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _get(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.requests.append(parts.path)
        self.queries.append(params.get("query", ""))
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.status != 200:
            return self._send(handler, self.status, {"status": "error", "error": "unavailable"})
        if self.token and handler.headers.get("Authorization") != f"Bearer {self.token}":
            return self._send(handler, 401, {"status": "error", "error": "unauthorized"})
        now = time.time()
        if parts.path == "/api/v1/targets" and self.fleet.targets_list:
            targets = [{"labels": {"instance": f"{n}:9400", "job": "dcgm"}, "scrapeInterval": f"{self.fleet.interval_s:g}s",
                        "health": "down" if n in self.fleet.down else "up",
                        "lastError": "context deadline exceeded" if n in self.fleet.down else ""}
                       for n in self.fleet.names()]
            return self._send(handler, 200, {"status": "success", "data": {"activeTargets": targets}})
        if parts.path == "/api/v1/query":
            query = params.get("query", "")
            result = self.fleet.vector(query, self.window_s, now)
            if not result and query not in (promql.up_query(None), promql.up_query("dcgm"), promql.gauges_query(),
                                            promql.window_query(self.window_s)):
                self.unknown.append(query)
            return self._send(handler, 200, {"status": "success", "data": {"resultType": "vector",
                                                                           "result": result}})
        if parts.path == "/api/v1/query_range":
            start, end, step = float(params["start"]), float(params["end"]), float(params["step"])
            points = int((end - start) // step) + 1
            result = [{"metric": {"gpu": str(g), "field": "util", "exporter": "dcgm"},
                       "values": [[start + i * step, repr((i % 10) / 10)] for i in range(points)]}
                      for g in range(self.fleet.gpus)]
            return self._send(handler, 200, {"status": "success", "data": {"resultType": "matrix", "result": result}})
        self._send(handler, 404, {"status": "error", "error": "not found"})

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- a server that answers raw bytes ---------------------------------------------------------------

Answer = Callable[[str, dict[str, str]], bytes]  # (path, headers) -> the raw bytes sent back


def ok(body: bytes, extra: str = "") -> bytes:
    """A whole 200 answer holding `body`, as `RawServer` sends it."""
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n".encode() + body


class RawServer:
    """A loopback server that sends, for each request, the bytes `answer(path, headers)` gives, then closes."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.seen: list[tuple[str, dict[str, str]]] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            first, *lines = data.split(b"\r\n\r\n")[0].decode().split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
            path = first.split()[1]
            self.seen.append((path, headers))
            conn.sendall(self.answer(path, headers))

    def close(self) -> None:
        self._sock.close()
