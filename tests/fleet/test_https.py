"""The fleet over https with a certificate of the lab's own (self-signed): refused as one line, read once trusted
through `SSL_CERT_FILE`, as the documentation says."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from collectors.fleet.http import FetchError, get
from tests.fleet.test_cli import fleet

PAGE = b'rigscope_gpu_power_watts{gpu="0"} 300\n'
pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")


class _Page(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)


@pytest.fixture
def https(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=30)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/metrics", cert
    server.shutdown()
    server.server_close()


def test_a_self_signed_certificate_is_refused_as_one_line(https):
    url, _ = https
    with pytest.raises(FetchError) as caught:
        get(url, 3)
    assert "cannot be reached ([SSL: CERTIFICATE_VERIFY_FAILED]" in str(caught.value)


def test_ssl_cert_file_trusts_the_lab_s_certificate(https):
    url, cert = https
    done = fleet("--targets", url, "--once", "--json", env={"SSL_CERT_FILE": str(cert)})
    assert done.returncode == 0, done.stderr
    assert '"power": 300.0' in done.stdout
    refused = fleet("--targets", url, "--once")
    assert "CERTIFICATE_VERIFY_FAILED" in refused.stdout and "Traceback" not in refused.stderr
