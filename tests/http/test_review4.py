"""Review 4 of the HTTP endpoint: HEAD, what a client that is not HTTP/1 gets, /metrics while the recorder closes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.http.conftest import request, serving


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
