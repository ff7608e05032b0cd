"""Review 4 of the HTTP endpoint: HEAD, what a client that is not HTTP/1 gets, /metrics while the recorder closes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.http.conftest import raw_request, request, serving


@pytest.mark.parametrize("path", ["/metrics", "/metrics/summary", "/metrics/export", "/healthz"])
def test_head_answers_as_get_without_the_body(tmp_path: Path, path: str) -> None:
    """`curl -I .../healthz` and load balancers' HEAD checks got 405 on every endpoint."""
    with serving(tmp_path) as monitor:
        status, headers, body = request(monitor.http.port, "HEAD", path)
        assert status in (200, 503) and body == b""  # 503: /healthz before the first sample
        assert int(headers["content-length"]) > 0
        assert headers["content-type"] == request(monitor.http.port, "GET", path)[1]["content-type"]
        status, headers, _ = request(monitor.http.port, "HEAD", "/events")
        assert status == 405 and headers["allow"] == "POST"


@pytest.mark.parametrize(("request_bytes", "code"), [
    (b"GET /metrics HTTP/2.0\r\n\r\n", b"505"),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"505"),  # curl --http2-prior-knowledge
    (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40 + b"\r\n\r\n", b"400"),  # https:// by mistake
    (b"GET /metrics HTTP/x.y\r\n\r\n", b"400"),
])
def test_a_request_line_that_is_not_http_1_gets_a_status_line(tmp_path: Path, request_bytes: bytes, code: bytes) -> None:
    """http.server refused these before it knew the version, and so wrote a bare HTML page without status
    line or headers (a client read garbage, or hung until the connection closed)."""
    with serving(tmp_path) as monitor:
        reply = raw_request(monitor.http.port, request_bytes)
    assert reply.startswith(b"HTTP/1.1 " + code), reply[:80]
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower() and json.loads(body)["status"] == int(code)
