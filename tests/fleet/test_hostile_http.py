"""The fleet's HTTP GET against servers that break the protocol, redirect, or are named with credentials.

A body cut short, a status line that is not HTTP: one `FetchError` line (one node stale in a direct
scrape), never an exception out of the refresh.  Credentials in a URL are used as basic auth and
never printed; a redirect to another server does not take the credentials with it.
"""

from __future__ import annotations

import base64

import pytest

from collectors.fleet.http import Auth, FetchError, _same_server, get, where
from collectors.fleet.scrape import ScrapeFleet
from tests.fleet.servers import ok

GOOD = b'rigscope_gpu_power_watts{gpu="0"} 300\n'

CUT = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n" + GOOD  # then the connection closes


@pytest.mark.parametrize("sent", [CUT, b"SSH-2.0-OpenSSH_9.6\r\n\r\n", b"HTTP/1.1 abc Nope\r\n\r\n"],
                         ids=["body cut short", "not HTTP", "bad status"])
def test_a_broken_answer_is_one_line(raw, sent):
    server = raw(lambda path, headers: sent)
    with pytest.raises(FetchError) as caught:
        get(f"http://{server.address}/metrics", 3)
    assert str(caught.value).startswith(f"{server.address}/metrics failed (")


def test_a_page_cut_short_makes_that_node_stale_and_the_others_are_read(raw):
    cut, good = raw(lambda path, headers: CUT), raw(lambda path, headers: ok(GOOD))
    fleet = ScrapeFleet([cut.address, good.address], timeout_s=3)
    try:
        model = fleet.refresh()
    finally:
        fleet.close()
    rows = {r["node"]: r for r in model.rows}
    assert rows["127.0.0.1"]["power"] == 300.0  # both on 127.0.0.1: one node, the good exporter's reading
    assert rows["127.0.0.1"]["reason"] == f"{cut.address} down: failed (cut short: {len(GOOD)} of 1000 bytes)"


def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_shown(raw):
    server = raw(lambda path, headers: b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    with pytest.raises(FetchError) as caught:
        get(f"http://alice:s3cr%40t@{server.address}/api/v1/query", 3)
    assert str(caught.value) == f"{server.address}/api/v1/query answered (500 Oops)"
    assert server.seen[0][1]["authorization"] == "Basic " + base64.b64encode(b"alice:s3cr@t").decode()
    assert where("https://alice:pw@prom.lab:9090/x?y=1") == "prom.lab:9090/x"


def test_a_token_given_wins_over_credentials_in_the_url(raw):
    server = raw(lambda path, headers: ok(b"{}"))
    get(f"http://alice:pw@{server.address}/x", 3, Auth(bearer="t0k"))
    assert server.seen[0][1]["authorization"] == "Bearer t0k"


def test_a_redirect_to_another_server_does_not_carry_the_credentials(raw):
    other = raw(lambda path, headers: ok(b"elsewhere"))
    home = raw(lambda path, headers: ok(b"home") if path == "/moved" else
               f"HTTP/1.1 302 Found\r\nLocation: {'/moved' if path == '/here' else f'http://{other.address}/x'}"
               f"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
    assert get(f"http://{home.address}/here", 3, Auth(bearer="t0k")) == b"home"
    assert home.seen[-1] == ("/moved", home.seen[-1][1]) and home.seen[-1][1]["authorization"] == "Bearer t0k"
    assert get(f"http://{home.address}/away", 3, Auth(bearer="t0k")) == b"elsewhere"
    assert "authorization" not in other.seen[0][1]  # it was sent on to the other server before
    get(f"http://bob:pw@{home.address}/away", 3)
    assert "authorization" not in other.seen[1][1]


@pytest.mark.parametrize("url", ["http://host:abc/", "http://[::1/", "http://exa mple:9090/", "http:///x"])
def test_a_malformed_url_is_one_line(url):
    with pytest.raises(FetchError):
        get(url, 1)


def test_a_secret_s_trailing_line_break_is_not_part_of_it(raw, monkeypatch):
    """A Kubernetes secret made from a file ends with a line break, and so does the variable it fills."""
    server = raw(lambda path, headers: ok(b"{}"))
    monkeypatch.setenv("RIGSCOPE_FLEET_TOKEN", "t0k3n\n")
    get(f"http://{server.address}/x", 3, Auth.from_env(None, None))
    assert server.seen[0][1]["authorization"] == "Bearer t0k3n"
    monkeypatch.delenv("RIGSCOPE_FLEET_TOKEN")
    get(f"http://{server.address}/x", 3, Auth.from_env(None, " alice:pw\r\n"))
    assert server.seen[1][1]["authorization"] == "Basic " + base64.b64encode(b"alice:pw").decode()


def test_a_credential_with_a_control_character_is_refused_without_being_printed():
    with pytest.raises(FetchError) as caught:
        get("http://127.0.0.1:9/x", 3, Auth(bearer="s3cr\net"))
    assert "s3cr" not in str(caught.value) and "a credential holds a control character" in str(caught.value)


@pytest.mark.parametrize("new, keeps", [
    ("http://prom.lab/x", True), ("http://prom.lab:80/x", True), ("https://prom.lab/x", True),  # an upgrade
    ("https://prom.lab:8443/x", False), ("http://other.lab/x", False), ("http://prom.lab.evil/x", False),
])
def test_which_redirect_keeps_the_credentials(new, keeps):
    assert _same_server("http://prom.lab/api/v1/query", new) is keeps
    assert _same_server("https://prom.lab/api", "http://prom.lab/api") is False  # never down to plain http
