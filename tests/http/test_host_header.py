"""An endpoint bound to loopback answers only requests that name this machine in `Host`.

A web page open in the user's browser can point a name it owns at 127.0.0.1 (DNS rebinding): the
browser then sends the page's requests to the monitor as same-origin, and the page reads
`/metrics` (host, span names) and `/metrics/export` (the session's paths).  Such a request carries
the page's name in `Host`; Prometheus, curl and a tunnel carry 127.0.0.1, localhost or this
machine's name.
"""

from __future__ import annotations

import http.client
import socket

import pytest

from tests.http.conftest import request, serving, wait_for

PATHS = ("/metrics", "/metrics/summary", "/metrics/export", "/healthz")
ELSEWHERE = ("rebind.example.com:{port}", "rebind.example.com", "127.0.0.1.nip.io:{port}",
             "evil.localhost.example:{port}", "[::2]:{port}", "10.0.0.7:{port}")
THIS_MACHINE = ("127.0.0.1:{port}", "127.0.0.1", "localhost:{port}", "LOCALHOST.:{port}", "[::1]:{port}",
                "grafana.localhost:{port}", "{hostname}:{port}")


def statuses(port: int, hosts: tuple[str, ...]) -> dict[tuple[str, str], int]:
    """{(Host, path): status} of a GET of every path with each Host."""
    out = {}
    for host in hosts:
        value = host.format(port=port, hostname=socket.gethostname())
        for path in PATHS:
            status, _, body = request(port, "GET", path, headers={"Host": value})
            assert status != 403 or b"Host" in body
            out[value, path] = status
    return out


def test_on_loopback_a_name_from_elsewhere_is_refused_and_names_of_this_machine_are_served(tmp_path):
    with serving(tmp_path, hz=10.0, duration_s=60.0) as monitor:
        wait_for(lambda: monitor.http.feed.snapshot().samples > 0, what="a first sample")
        refused = statuses(monitor.http.port, ELSEWHERE)
        served = statuses(monitor.http.port, THIS_MACHINE)
    assert set(refused.values()) == {403}
    assert set(served.values()) <= {200, 503}  # /healthz may say 503 on a busy machine


def test_an_address_open_to_the_network_takes_any_name(tmp_path):
    """Bound to every interface, Prometheus names it as its config says (a DNS name, a load balancer's)."""
    with serving(tmp_path, hz=10.0, duration_s=60.0, http=("0.0.0.0", 0)) as monitor:
        wait_for(lambda: monitor.http.feed.snapshot().samples > 0, what="a first sample")
        served = statuses(monitor.http.port, ("gpubox-01.lab:9700", *ELSEWHERE))
    assert set(served.values()) <= {200, 503}


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
def test_an_ipv6_loopback_endpoint_is_scraped_by_its_address(tmp_path):
    """`--http [::1]:PORT`: a scraper connects to ::1 and names it `[::1]:PORT` in Host."""
    with serving(tmp_path, hz=10.0, duration_s=60.0, http=("::1", 0)) as monitor:
        wait_for(lambda: monitor.http.feed.snapshot().samples > 0, what="a first sample")
        assert monitor.http.url == f"http://[::1]:{monitor.http.port}"
        connection = http.client.HTTPConnection("::1", monitor.http.port, timeout=10)
        try:
            connection.request("GET", "/metrics")
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
    assert response.status == 200 and b"rigscope_info{" in body
