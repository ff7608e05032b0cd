"""Text from outside is inert where it is printed: the report (markdown and terminal), `ls`, status lines."""

from __future__ import annotations

import json
import socket

from recordings.inert import inert, inert_document
from rigscope.monitor import Monitor, MonitorConfig
from rigscope.record_command import status_line
from tests.probe.conftest import runtime  # noqa: F401 (a fixture)
from tests.waiting import wait_sync

HOSTILE = "\x1b[2J\x1b]0;pwned\x07 | \u202eevil\x9b31m"
SHOWN = "\\x1b[2J\\x1b]0;pwned\\x07 \\| \\u202eevil\\x9b31m"
CONTROL = [chr(c) for c in [*range(0x00, 0x09), *range(0x0b, 0x20), *range(0x7f, 0xa0), 0x202e, 0x2066]]


def test_inert_escapes_every_control_character():
    assert inert("a\x1bb\nc\u202e") == "a\\x1bb\\x0ac\\u202e"
    assert inert_document("line\n\tnext\x1b[0m\r") == "line\n\tnext\\x1b[0m\\x0d"
    assert not any(c in inert("".join(CONTROL)) for c in CONTROL)
    assert inert("plain text, ünïcode, 温度 °C") == "plain text, ünïcode, 温度 °C"


def test_a_hostile_note_tag_and_span_are_inert_in_the_report_ls_and_status_line(tmp_path, runtime, cli):  # noqa: F811
    monitor = Monitor(MonitorConfig(source="sim", speed=1.0, hz=20, directory=str(tmp_path), notes=HOSTILE))
    monitor.start()
    try:
        events = [{"kind": "note", "text": HOSTILE}, {"kind": "tag", "state": "\x1b[31mred"},
                  {"kind": "span_start", "span_id": "s", "name": "x\x1b[5m"},
                  {"kind": "span_end", "span_id": "s", "name": "x\x1b[5m", "success": False, "error": "\x1b[2J"}]
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.sendto("\n".join(json.dumps(e) for e in events).encode(), monitor.event_stats()["socket"])
        wait_sync(lambda: monitor.event_stats()["received"] == 4, 10, "the events")
        wait_sync(lambda: monitor.signals.workload.state[1] == "tag", 10, "the tag in effect")
        line = status_line(monitor)
        assert "\x1b" not in line and "state \\x1b[31mred (tag)" in line
    finally:
        monitor.stop()
    report = cli("report", str(monitor.session))
    assert report.returncode == 0, report.stderr
    written = (monitor.session / "report.md").read_text()
    for text in (report.stdout, written):
        assert SHOWN in text and "x\\x1b[5m" in text
        assert not any(c in text for c in CONTROL)
    listing = cli("ls", "--dir", str(tmp_path))
    assert listing.returncode == 0 and "\\x1b[2J" in listing.stdout and "\x1b" not in listing.stdout
    tagged = cli("tag", "--session", monitor.session.name, "\x1b[2Jx")
    assert tagged.returncode == 1 and "\x1b" not in tagged.stderr  # it has ended: one inert line
