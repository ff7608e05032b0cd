"""`rigscope fleet` given what a user mistypes: each is bad usage, one line on stderr, exit 2, no traceback,
and no password of a URL on the screen."""

from __future__ import annotations

import pytest

from collectors.fleet import promql
from tests.fleet.servers import FakeFleet, FakePrometheus
from tests.fleet.test_cli import fleet


@pytest.mark.parametrize("args, says", [
    (["--prometheus", "prometheus:9090"], "'prometheus:9090' is not a URL to read (not http:// or https://)"),
    (["--prometheus", "http://prom:abc"], "--prometheus: 'http://prom:abc' is not a URL to read (Port could not"),
    (["--prometheus", "http://[::1"], "--prometheus: 'http://[::1' is not a URL to read (Invalid IPv6 URL)"),
    (["--prometheus", "http://"], "--prometheus: 'http://' is not a URL to read (no host)"),
    (["--prometheus", "http://prom lab:9090"], "is not a URL to read (a space or control character in it)"),
    (["--prometheus", "http://alice:s3cret@prom:99999"], "'http://prom:99999' is not a URL to read (Port out of"),
    (["--targets", "gpu01:9400,gpu02:abc"], "--targets: 'gpu02:abc' is not a URL to read (Port could not"),
    (["--prometheus", "http://prom:9090", "--job", "dcgm("], "--job: 'dcgm(' is not a regular expression ("),
    (["--prometheus", "http://prom:9090/?org=1"], "'http://prom:9090/?org=1' is not a URL to read (a query or"),
])
def test_a_bad_source_is_bad_usage(args, says):
    done = fleet(*args, "--once")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and says in done.stderr, done.stderr
    assert "s3cret" not in done.stderr


def test_the_job_regex_is_one_promql_string_whatever_it_holds():
    assert promql.up_query(r'a\.b"c') == r'max by (instance) (up{job=~"a\\.b\"c"})'


def test_credentials_in_the_url_work_and_are_never_printed():
    server = FakePrometheus(FakeFleet(nodes=2), token=None)
    server.status = 500
    try:
        failed = fleet("--prometheus", server.url.replace("//", "//alice:s3cret@"), "--once")
    finally:
        server.close()
    assert failed.returncode == 1 and "answered (500" in failed.stderr
    assert "s3cret" not in failed.stderr + failed.stdout and "alice" not in failed.stderr
