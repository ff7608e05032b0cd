"""The HTTP endpoint of a running monitor (`--http [HOST:]PORT`).

Routes, matched exactly (a path is never mapped to a file):

    GET  /metrics          Prometheus text format (OpenMetrics when the scraper takes nothing else)
    GET  /metrics/summary  JSON with the TTS monitoring system's keys, the session, collapses, workload state
    GET  /metrics/export   JSON with the session's files and the TTS `analysis` object
    GET  /healthz          200 while samples arrive; 503 when the sampler stalled or stopped
    HEAD                   on each GET path: its status and headers, no body
    POST /events           one probe event (JSON, at most 64 KiB), with `Authorization: Bearer TOKEN`
                           (the session's token, or --http-token's), from loopback too: another
                           user of the box must not write into the session

Another path gets 404, another method 405.  Bound to loopback, a request whose `Host` names no address
or name of this machine gets 403: a web page that pointed a name of its own at 127.0.0.1 (DNS
rebinding) must not read the session.  The server runs in its own threads
(one loop holding the connections, a few workers answering; rigscope/serve/http_loop.py
bounds connections and how long a client may take) and reads only the snapshot that
`ExportFeed`'s thread publishes (frames, running totals and the span statistics' figures) and
a `ServedSession`: the session's identity, files and status, and where a posted event goes.
It never sees the monitor (rigscope/serve/wiring.py builds both from one), so serving never
blocks sampling or the dashboard.  It binds to 127.0.0.1 unless told otherwise, and logs nothing
(the dashboard owns the terminal).
"""

from __future__ import annotations

import hmac
import io
import json
import socket
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from prometheus_client.exposition import choose_encoder, generate_latest

from collectors.event_parse import parse_event
from recordings.errors import InputError
from rigscope import __version__
from rigscope.serve import reports
from rigscope.serve.addresses import binds_loopback_only, names_this_machine, show_host
from rigscope.serve.exposition import TextEncoder
from rigscope.serve.feed import ExportFeed, ExportSnapshot
from rigscope.serve.http_loop import BoundedHTTPServer, SocketWriter
from rigscope.serve.prometheus import ExportLabels, make_registry

MAX_BODY = 64 * 1024
# While scrapes come more often than every 2 * RENDER_EVERY_S, /metrics is rendered at most every
# RENDER_EVERY_S, in the feed thread right after a sample; a scrape may then get a rendering up to
# 2 * RENDER_EVERY_S old (its rigscope_last_sample_timestamp_seconds says which sample).
RENDER_EVERY_S = 0.1
ROUTES: dict[str, tuple[str, ...]] = {
    "/metrics": ("GET", "HEAD"),  # HEAD: the GET's status and headers, no body (`curl -I`, load balancers)
    "/metrics/summary": ("GET", "HEAD"),
    "/metrics/export": ("GET", "HEAD"),
    "/healthz": ("GET", "HEAD"),
    "/events": ("POST",),
}
JSON_TYPE = "application/json; charset=utf-8"
OPENMETRICS = "application/openmetrics-text"
OPENMETRICS_1 = OPENMETRICS + "; version=1.0.0;"


class ServedSession(Protocol):
    """What the HTTP sink reads of a running session besides the feed's snapshot, and the one thing it does to it."""

    hz: float  # configured samples per second

    def labels(self) -> ExportLabels:
        """The session's identity, read when serving starts (the session folder exists by then)."""

    def files(self) -> tuple[Path | None, str | None]:
        """The session folder and its status (recording, complete, interrupted), None when not recording."""

    def post_event(self, event: dict[str, Any]) -> bool:
        """Hand on a posted event as the event receiver does; False when its rate limit dropped it."""

    def refuse_event(self) -> None:
        """Count a posted event refused for its token, as the event receiver counts datagrams without it."""


@dataclass(frozen=True)
class Rendering:
    """A `/metrics` body kept for the scrapes that follow: which snapshot it shows, in which format, when made."""

    snapshot: ExportSnapshot
    content_type: str
    body: bytes
    made: float  # time.monotonic()
    encoder: Any  # what rendered it (called with the registry)


class _Server(BoundedHTTPServer):
    exporter: HttpExporter

    def handle_error(self) -> None:
        self.exporter.errors += 1  # never a traceback on the dashboard's terminal


class _Server6(_Server):
    address_family = socket.AF_INET6


def open_server(host: str, port: int) -> _Server:
    """A bound, listening server; InputError (one clear line) when the address cannot be used."""
    server_class = _Server6 if ":" in host else _Server
    try:
        # http.server's handler on our own bounded loop: it has the handler protocol's behaviour, not its types.
        return server_class((host, port), Handler, MAX_BODY)  # type: ignore[arg-type]
    except (OSError, OverflowError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InputError(f"--http {show_host(host)}:{port}: cannot listen ({reason})") from None


def check_listen(host: str, port: int) -> None:
    """Fail early, before a session is created, when the address is taken or invalid."""
    if port:
        open_server(host, port).server_close()


# -- the exporter ------------------------------------------------------------------
class HttpExporter:
    """The feed thread and HTTP server of one session; started and stopped with it."""

    def __init__(self, feed: ExportFeed, session: ServedSession, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None) -> None:
        self.session = session
        self.host, self.requested_port, self.token = host, port, token or None
        hz = session.hz
        self.feed = feed
        # A tick is overdue after five periods (at least 2 s of real time): then /healthz says 503.
        self.stall_after_s = max(2.0, 5.0 / hz)
        self.prerender_delay_s = min(0.002, 0.2 / hz)
        self.labels = ExportLabels(host="", session="")
        self.loopback_only = True  # set at start: then a request must name this machine in Host
        self.hostname = ""
        self.registry: Any = None
        self.server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.errors = 0
        self.events_accepted = 0
        # Scrapes between two samples get the same bytes: only the first one after a sample renders.
        self.cache_metrics = True
        self._rendered: Rendering | None = None
        self._last_scrape = -1e9
        self._dense = False  # scrapes closer together than 2 * RENDER_EVERY_S
        self.renders = 0
        self.text_encoder = TextEncoder()  # the classic text format, label text rendered once per series
        self.feed.on_publish = self._prerender

    @property
    def port(self) -> int:
        return self.server.server_port if self.server is not None else self.requested_port

    @property
    def url(self) -> str:
        return f"http://{show_host(self.host)}:{self.port}"

    def start(self) -> None:
        """Bind (InputError when the port is taken), then serve in a background thread."""
        self.labels = self.session.labels()
        self.registry = make_registry(self.feed.snapshot, self.labels)
        self.loopback_only, self.hostname = binds_loopback_only(self.host), socket.gethostname()
        self.server = open_server(self.host, self.requested_port)
        self.server.exporter = self
        self.feed.start()
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="rigscope-http", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=2)
            self.server = None
        self.feed.close()

    # -- bodies --------------------------------------------------------------
    def metrics(self, accept: str | None) -> tuple[bytes, str]:
        # The classic text format whenever the scraper takes it (Prometheus does, after OpenMetrics):
        # it renders in two thirds of the time and rigscope has no exemplars to carry.
        accept = accept or ""
        encoder, content_type = choose_encoder("" if "text/plain" in accept or "*/*" in accept else accept)
        if content_type.startswith(OPENMETRICS) and not content_type.startswith(OPENMETRICS_1):
            # prometheus_client writes OpenMetrics 1.0.0 whatever version it is asked for, and says the one asked.
            encoder, content_type = choose_encoder(OPENMETRICS)
        if encoder is generate_latest:
            encoder = self.text_encoder
        now = time.monotonic()
        self._dense = now - self._last_scrape < 2 * RENDER_EVERY_S
        self._last_scrape = now
        snap, rendered = self.feed.snapshot(), self._rendered
        if self.cache_metrics and rendered is not None and rendered.content_type == content_type:
            recent = self._dense and not snap.ended and now - rendered.made < 2 * RENDER_EVERY_S
            if rendered.snapshot is snap or recent:
                return rendered.body, content_type
        return self._render(snap, content_type, encoder), content_type

    def _render(self, snap: ExportSnapshot, content_type: str, encoder: Any) -> bytes:
        body = encoder(self.registry)
        self._rendered = Rendering(snap, content_type, body, time.monotonic(), encoder)
        self.renders += 1
        return body

    def _prerender(self, snap: ExportSnapshot) -> None:
        """The feed thread, just after a sample: render ahead while scrapes come fast."""
        rendered = self._rendered
        if not (self.cache_metrics and self._dense and rendered is not None):
            return
        now = time.monotonic()
        if now - self._last_scrape > 2 * RENDER_EVERY_S:
            self._dense = False  # the fast scraper went away
        elif rendered.snapshot is not snap and now - rendered.made >= RENDER_EVERY_S:
            # Let the sampler, which sent this sample a moment ago, reach its sleep first: a render that
            # takes the GIL while it is still on its way there delays its next tick by as much (measured).
            time.sleep(self.prerender_delay_s)
            self._render(snap, rendered.content_type, rendered.encoder)

    def summary(self) -> dict[str, Any]:
        return reports.summary(self.feed.snapshot(), self.labels)

    def export(self) -> dict[str, Any]:
        folder, status = self.session.files()
        return reports.export(self.feed.snapshot(), self.labels, folder, status)

    def health(self) -> tuple[int, dict[str, Any]]:
        snap = self.feed.snapshot()
        last = snap.last_frame_monotonic
        age = time.monotonic() - (last if last is not None else self.feed.started_monotonic)
        if snap.ended:
            status = "stopped"
        elif age > self.stall_after_s:
            status = "stalled"
        else:
            status = "ok"
        body = {"status": status, "samples": snap.samples, "last_sample_age_s": round(age, 3) if last else None,
                "stall_after_s": self.stall_after_s, "session_id": self.labels.session or None,
                "http": self.connections()}
        return (200 if status == "ok" else 503), body

    def connections(self) -> dict[str, int] | None:
        """Open connections, the cap, and those closed for the cap or for being too slow, since the start."""
        server = self.server
        if server is None:
            return None
        return {"open": server.open_connections, "max": server.max_connections, "refused": server.refused,
                "timed_out": server.timed_out}

    def refuse_host(self, host_header: str | None) -> str | None:
        """Why a request is refused (403) for its Host header; None when it may be answered."""
        if not self.loopback_only or names_this_machine(host_header, self.hostname):
            return None
        return "this endpoint listens on loopback: the Host header must name this machine (127.0.0.1, localhost)"

    def refuse_post(self, authorization: str | None) -> str | None:
        """Why POST /events is refused (401) to a request with this Authorization header, counted as the
        event receiver counts datagrams without the token; None when it carries the token."""
        scheme, _, given = (authorization or "").partition(" ")
        if (self.token is not None and scheme.lower() == "bearer"
                and hmac.compare_digest(given.strip().encode(), self.token.encode())):
            return None
        self.session.refuse_event()
        return "POST /events needs the session's token (Authorization: Bearer TOKEN, printed at start)"

    def post_event(self, event: dict[str, Any]) -> bool:
        """Hand a posted event on as the event receiver does (its rate limits and counters); False when dropped."""
        if not self.session.post_event(event):
            return False
        self.events_accepted += 1
        return True


# -- requests --------------------------------------------------------------------
class Handler(BaseHTTPRequestHandler):
    server: _Server  # type: ignore[assignment]  # our bounded loop, not a socketserver.BaseServer
    server_version = f"rigscope/{__version__}"
    protocol_version = "HTTP/1.1"  # keep-alive for scrapers

    def __init__(self, sock: socket.socket, client_address: Any, server: _Server, request: bytes) -> None:
        self._request_bytes = request  # the whole request, read by the server's loop
        super().__init__(sock, client_address, server)  # type: ignore[arg-type]  # as for `server` above

    def setup(self) -> None:
        self.connection = self.request
        # Headers and body go out at once: no 40 ms delayed-ACK stall on keep-alive.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        self.rfile = io.BytesIO(self._request_bytes)
        self.wfile = SocketWriter(self.connection)  # type: ignore[assignment]

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()  # one request: the server's loop waits for the next one

    def finish(self) -> None:
        pass  # the server's loop keeps or closes the connection

    def handle_expect_100(self) -> bool:
        return True  # the body is in already (the server's loop sent "100 Continue" when it was awaited)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class names it so)
        pass

    def version_string(self) -> str:
        return self.server_version  # not the Python version, nor the space the base class puts before it

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own refusals (a request line that is not HTTP/1, HTTP/2's preface, a TLS hello, a
        # header line too long) come before it knows the version: it then wrote a bare HTML page, no status line.
        self.request_version = "HTTP/1.1"
        self._error(code, message or HTTPStatus(code).phrase)

    def __getattr__(self, name: str) -> Any:
        # Every method (do_GET, do_DELETE, do_BREW, ...) goes through the router: 404 or 405, never 501.
        if name.startswith("do_"):
            return self._route
        raise AttributeError(name)

    def _route(self) -> None:
        exporter = self.server.exporter
        refusal = exporter.refuse_host(self.headers.get("Host"))
        if refusal is not None:
            self._error(403, refusal)
            return
        path = urlsplit(self.path).path  # the query string is ignored
        methods = ROUTES.get(path)
        if methods is None:
            self._error(404, "not found; the endpoints are " + ", ".join(ROUTES))
            return
        if self.command not in methods:
            self._error(405, f"{path} takes {', '.join(methods)}", [("Allow", ", ".join(methods))])
            return
        try:
            if path == "/metrics":
                body, content_type = exporter.metrics(self.headers.get("Accept"))
                self._send(200, body, content_type)
            elif path == "/metrics/summary":
                self._json(200, exporter.summary())
            elif path == "/metrics/export":
                self._json(200, exporter.export())
            elif path == "/healthz":
                self._json(*exporter.health())
            else:
                self._post_event(exporter)
        except OSError:
            raise  # the client went away or did not take its reply: not an internal error
        except Exception:  # noqa: BLE001 (a failing endpoint answers 500; the server goes on)
            exporter.errors += 1
            self._error(500, "internal error")

    def _post_event(self, exporter: HttpExporter) -> None:
        refusal = exporter.refuse_post(self.headers.get("Authorization"))
        if refusal is not None:
            self._error(401, refusal, [("WWW-Authenticate", 'Bearer realm="rigscope"')])
            return
        if self.headers.get("Transfer-Encoding"):
            self._error(411, "send the event with a Content-Length, not chunked")
            return
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            self._error(411, "Content-Length required")
            return
        try:
            length = int(length_text)
        except ValueError:
            length = -1
        if length < 0:
            self._error(400, "bad Content-Length")
            return
        if length > MAX_BODY:
            self._error(413, f"an event is at most {MAX_BODY} bytes")
            return
        payload = self.rfile.read(length)
        if len(payload) != length:
            self._error(400, "the body ended early")
            return
        try:
            json.loads(payload)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; 30,000 nested [ recurse
            self._error(400, "the body is not valid JSON")
            return
        event = parse_event(payload)
        if event is None:
            self._error(400, "not an event: a JSON object whose kind is note, tag, span_start, span_end or metric, "
                             "with that kind's fields")
            return
        event.pop("ack", None)
        if not exporter.post_event(event):
            self._error(429, "event flood: the monitor's rate limit dropped this event", [("Retry-After", "1")])
            return
        self._json(202, {"ok": True, "kind": event["kind"], "ts": event["ts"]})

    # -- responses -------------------------------------------------------------
    def _json(self, status: int, data: Any, headers: list[tuple[str, str]] | None = None) -> None:
        body = json.dumps(reports.finite(data), allow_nan=False).encode()
        self._send(status, body + b"\n", JSON_TYPE, headers)

    def _error(self, status: int, message: str, headers: list[tuple[str, str]] | None = None) -> None:
        self._json(status, {"error": message, "status": status}, headers)

    def _send(self, status: int, body: bytes, content_type: str, headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in headers or []:
            self.send_header(name, value)
        if status >= 400:  # an unread body must not be taken for the next request
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
