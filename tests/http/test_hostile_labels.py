"""Label text from outside rigscope (the host's name, a GPU's name) is served escaped, and every scrape parses.

A Linux host name is any bytes (`sethostname`); Python hands one that is not UTF-8 over with lone
surrogates, which no HTTP body can hold.  Quotes, backslashes and newlines in a GPU name must not
end a label or a line.
"""

from __future__ import annotations

import socket

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from collectors.fake_nvml import FakeGpu, FakeNvml
from rigscope.monitor import Monitor, MonitorConfig
from tests.http.conftest import request, samples_of, scrape, wait_for

GPU_NAME = 'NVIDIA "H100" \\ 80GB\nrigscope_info 1'


def test_a_host_name_that_is_not_utf8_and_a_gpu_name_with_quotes_are_served(tmp_path, monkeypatch):
    monkeypatch.setattr(socket, "gethostname", lambda: b"gpu\xffbox".decode("utf-8", "surrogateescape"))
    monitor = Monitor(MonitorConfig(source="system", hz=20.0, duration_s=30.0, http=("127.0.0.1", 0), record=False,
                                    directory=str(tmp_path)), nvml_backend=FakeNvml([FakeGpu(name=GPU_NAME)]))
    monitor.start()
    try:
        wait_for(lambda: monitor.http.feed.snapshot().samples >= 2, what="two samples")
        families = scrape(monitor.http.port)  # 500 for every scrape, before
        status, _, body = request(monitor.http.port, "GET", "/metrics",
                                  headers={"Accept": "application/openmetrics-text"})
    finally:
        monitor.request_stop()
        monitor.stop()
    assert status == 200 and body.endswith(b"# EOF\n")
    assert {family.name for family in parse_openmetrics(body.decode())} >= {"rigscope_info", "rigscope_gpu_info"}
    (labels,) = [dict(key) for key in samples_of(families, "rigscope_gpu_info")]
    assert labels["host"] == "gpu\ufffdbox" and labels["name"] == GPU_NAME
    assert list(samples_of(families, "rigscope_info").values()) == [1.0]  # the newline did not make a second one

