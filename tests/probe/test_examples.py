"""The examples in docs/examples run next to a monitor and show up in its spans, metrics and tags."""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import time
import wave

import pytest

from recordings.events import read_events
from tests.conftest import REPO

EXAMPLES = REPO / "docs" / "examples"


def wait_for(predicate, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False



def run_example(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True, timeout=120,
                          cwd=REPO)


def test_tts_server_demo_makes_one_span_per_request(monitor):
    result = run_example("tts_server.py", "--demo", "6", "--port", "0", "--layers", "1")
    assert result.returncode == 0, result.stderr
    assert "HTTP 400: empty text" in result.stdout
    assert wait_for(lambda: monitor.span_statistics.summary()["total"] == 6 + 3 * 5)
    rows = monitor.span_statistics.recent(50)
    requests = {row["request_id"]: row for row in rows if row["name"] == "synthesis"}
    assert sorted(requests) == [f"demo-{n}" for n in range(1, 7)]
    failed = requests["demo-6"]
    assert failed["success"] is False and failed["error_message"] == "ValueError: empty text"
    ok = requests["demo-2"]
    assert ok["success"] and ok["audio_s"] > 1 and ok["tokens"] == ok["text_length_tokens"] == 10
    assert ok["rtf"] == pytest.approx(ok["total_duration_s"] / ok["audio_s"])
    assert ok["tokens_per_second"] == pytest.approx(10 / ok["total_duration_s"])
    assert ok["quantization_used"] == "none" and ok["voice"] == "tenor" and ok["text_length_chars"] == 44
    children = [row for row in rows if row["parent_id"] == ok["span_id"]]
    assert sorted(row["name"] for row in children) == ["encode", "generate", "tokenize"]


def test_tts_is_deterministic_and_returns_a_wav(monkeypatch):
    monkeypatch.setenv("RIGSCOPE_PROBE", "off")
    spec = importlib.util.spec_from_file_location("tts_server_example", EXAMPLES / "tts_server.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.MODEL = module.AcousticModel(layers=1)
    first = module.handle("Hello there, general.", "alto", "a")
    assert first == module.handle("Hello there, general.", "alto", "b")
    with wave.open(io.BytesIO(first)) as audio:
        assert audio.getframerate() == module.RATE and audio.getnchannels() == 1 and audio.getnframes() > 1000
    with pytest.raises(ValueError, match="unknown voice"):
        module.handle("hi", "bass", "c")


def test_train_loop_logs_metrics_and_tags_its_phases(monitor):
    pytest.importorskip("numpy")
    result = run_example("train_loop.py", "--epochs", "2", "--rows", "4000", "--hidden", "32")
    assert result.returncode == 0, result.stderr
    steps = 2 * (4000 // 256)
    assert wait_for(lambda: len(monitor.metrics.series("grad_norm")) == steps)
    assert set(monitor.metrics.names()) == {"loss", "grad_norm", "lr", "eval_loss"}
    assert [p[2] for p in monitor.metrics.series("loss")] == list(range(steps))
    assert wait_for(lambda: monitor.span_statistics.summary()["total"] == 2)
    monitor.stop()
    events = read_events(monitor.session / "events.jsonl")
    tags = [e["state"] for e in events if e["kind"] == "tag"]
    assert tags[0] == "data_prep" and tags[-1] == "auto"
    assert {"train", "eval", "checkpoint"} <= set(tags)
    assert any(e["kind"] == "note" and e["text"].startswith("train_loop done") for e in events)
