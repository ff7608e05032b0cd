"""POST /events survives every body the local socket does: each hostile one refused (400), the next valid one taken."""

from __future__ import annotations

import json

from tests.http.conftest import request, serving
from tests.probe.test_hostile import HOSTILE


def test_hostile_bodies_are_refused_and_the_server_goes_on(tmp_path):
    with serving(tmp_path) as monitor:
        port = monitor.http.port
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {monitor.session_token}"}
        for body in HOSTILE:
            status, _, _ = request(port, "POST", "/events", body, headers)
            assert status == 400, body[:60]
            status, _, reply = request(port, "POST", "/events", b'{"kind":"metric","name":"alive","value":1}', headers)
            assert status in (200, 202), reply
        cut = json.dumps({"kind": "note", "text": "n" * 10_000}).encode()
        assert request(port, "POST", "/events", cut, headers)[0] in (200, 202)
        assert monitor.event_stats()["received"] == len(HOSTILE) + 1
