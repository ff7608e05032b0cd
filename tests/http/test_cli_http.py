"""`--http [HOST:]PORT` and `--http-token` on the command line: parsing, the exposure warning, a taken port."""

from __future__ import annotations

import argparse
import socket

import pytest

from rigscope import options
from rigscope.serve.addresses import binds_loopback_only, exposure_warning
from tests.conftest import run_cli


@pytest.mark.parametrize(("text", "expected"), [
    ("9100", ("127.0.0.1", 9100)),
    ("0.0.0.0:9100", ("0.0.0.0", 9100)),
    ("localhost:0", ("localhost", 0)),
    ("[::1]:9100", ("::1", 9100)),
    ("[::]:80", ("::", 80)),
    ("gpu-box-3.lan:9100", ("gpu-box-3.lan", 9100)),
])
def test_http_address_parses(text, expected):
    assert options.http_address(text) == expected


@pytest.mark.parametrize("text", ["", "abc", ":9100", "::1:9100", "host:", "host:port", "1.2.3.4:99999", "a b:1",
                                  "[::1]9100", "-1"])
def test_http_address_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError):
        options.http_address(text)


def test_the_flags_are_on_every_sampling_command():
    for args in (["--help"], ["demo", "--help"], ["record", "--help"]):
        result = run_cli(*args)
        assert result.returncode == 0 and "--http [HOST:]PORT" in result.stdout and "--http-token" in result.stdout


def test_bad_http_flag_is_one_line_exit_2():
    result = run_cli("record", "--http", "nowhere")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "invalid --http" in result.stderr


def test_loopback_needs_no_warning():
    assert binds_loopback_only("127.0.0.1") and binds_loopback_only("::1") and binds_loopback_only("localhost")
    assert exposure_warning("127.0.0.1", 9100) is None
    assert "reached from the network" in exposure_warning("0.0.0.0", 9100)
    assert "[::]:9100" in exposure_warning("::", 9100)


def test_binding_elsewhere_warns_once(tmp_path):
    result = run_cli("record", "--source", "sim", "--speed", "max", "--duration", "2s", "--http", "0.0.0.0:0",
                     "--dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("can be reached from the network") == 1
    assert "serving http://0.0.0.0:" in result.stderr


def test_a_taken_port_is_one_line_and_no_session(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_cli("record", "--source", "sim", "--duration", "1s", "--http", str(port), "--dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "cannot listen" in result.stderr and "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())


def test_reading_the_flags_binds_nothing_and_every_recording_command_checks_the_port(tmp_path, monkeypatch):
    from rigscope.parser import build_parser
    from rigscope.record_command import config_from_args

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        made: list[object] = []
        real_socket = socket.socket
        monkeypatch.setattr(socket, "socket", lambda *a, **k: made.append(a) or real_socket(*a, **k))
        config = config_from_args(build_parser().parse_args(["record", "--source", "sim", "--http", str(port)]))
        monkeypatch.undo()
        assert config.http == ("127.0.0.1", port) and made == []  # a taken port is no error here: nothing bound
        result = run_cli("run", "--source", "sim", "--baseline", "0", "--cooldown", "0", "--http", str(port),
                         "--dir", str(tmp_path), "--", "true")
    assert result.returncode == 1 and "cannot listen" in result.stderr and "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())
