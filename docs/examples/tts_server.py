"""A small HTTP service that stands in for a TTS model, instrumented with rigscope: one span per request.

It runs on the CPU, needs only the standard library (and rigscope), and is
deterministic: the same text always gives the same WAV.  Each word becomes a
tone whose pitch comes from the word and whose length from its letters; an
"acoustic model" (a few dense layers with fixed weights, run in pure Python every
10 ms of audio) shapes its loudness, which makes a request cost real CPU time
(a real-time factor around 0.1 to 0.3 on a laptop, more with `--layers`); a
one-pole filter smooths the result (the "vocoder").

    rigscope demo                                   # or `rigscope`, in another terminal
    python docs/examples/tts_server.py              # serves http://127.0.0.1:8765
    curl -s -X POST localhost:8765/synthesize -d '{"text": "hello there"}' -o hello.wav

    python docs/examples/tts_server.py --demo 40    # serves, sends itself 40 requests, prints, exits

Every request is one `synthesis` span with `request_id`, `text_length_chars`,
`text_length_tokens`, `tokens`, `audio_s`, `voice`, `quantization_used` and
`num_threads`, so the monitor's span table has its RTF and tokens/s; inside it,
`tokenize`, `generate` and `encode` are nested spans.  An empty text fails its
span (`success` false, the error message kept) and answers 400.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
import re
import struct
import sys
import threading
import time
import urllib.error
import urllib.request
import wave
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from pathlib import Path

try:
    import rigscope
except ImportError:  # run from a checkout without installing: the repository root is two levels up
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import rigscope

RATE = 16_000
FRAME = RATE // 100  # the acoustic model runs once per 10 ms of audio
HIDDEN = 64
TOKEN = re.compile(r"[\w']+|[^\w\s]")
VOICES = {"alto": 220.0, "tenor": 165.0, "soprano": 330.0}
_requests = count(1)


class AcousticModel:
    """Dense layers with fixed (seeded) weights: the CPU work of a model, in pure Python."""

    def __init__(self, layers: int, seed: int = 7) -> None:
        draw = random.Random(seed)
        scale = 1.5 / math.sqrt(HIDDEN)
        self.weights = [[[draw.gauss(0.0, scale) for _ in range(HIDDEN)] for _ in range(HIDDEN)]
                        for _ in range(layers)]

    def loudness(self, token: str, frames: int) -> list[float]:
        """One loudness in [0.3, 1] per 10 ms frame of the token."""
        state = [((zlib.crc32(f"{token}{i}".encode()) % 1000) / 500.0) - 1.0 for i in range(HIDDEN)]
        out = []
        for _ in range(frames):
            for weights in self.weights:
                state = [math.tanh(sum(w * x for w, x in zip(row, state))) for row in weights]
            out.append(0.65 + 0.35 * sum(state) / HIDDEN)
        return out


MODEL = AcousticModel(layers=4)


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text)


def synthesize(tokens: list[str], base_hz: float) -> list[float]:
    """Samples in [-1, 1]: a tone per word, a short rest per punctuation mark."""
    samples: list[float] = []
    smooth = 0.0
    for token in tokens:
        if not token[0].isalnum():
            samples.extend([0.0] * (RATE // 12))
            continue
        pitch = base_hz * 2 ** ((zlib.crc32(token.lower().encode()) % 12) / 12)  # a semitone from the word
        length = int(RATE * (0.06 + 0.025 * len(token)))
        edge = min(length // 4, RATE // 100)
        step = 2 * math.pi * pitch / RATE
        loudness = MODEL.loudness(token.lower(), length // FRAME + 1)
        for i in range(length):
            envelope = min(1.0, i / edge, (length - i) / edge) * loudness[i // FRAME]
            value = envelope * (0.6 * math.sin(step * i) + 0.2 * math.sin(2 * step * i))
            smooth += 0.35 * (value - smooth)  # the "vocoder": a one-pole low-pass
            samples.append(smooth)
        samples.extend([0.0] * (RATE // 50))
    return samples


def encode_wav(samples: list[float]) -> bytes:
    frames = struct.pack(f"<{len(samples)}h", *(int(max(-1.0, min(1.0, s)) * 32767) for s in samples))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(frames)
    return buffer.getvalue()


def handle(text: str, voice: str, request_id: str) -> bytes:
    """One request, one span; the span fails (and the error propagates) on a bad request."""
    with rigscope.span("synthesis", request_id=request_id, text_length_chars=len(text), voice=voice,
                       quantization_used="none", num_threads=1) as span:
        if not text.strip():
            raise ValueError("empty text")
        if voice not in VOICES:
            raise ValueError(f"unknown voice {voice!r} (choose from {', '.join(VOICES)})")
        with rigscope.span("tokenize"):
            tokens = tokenize(text)
        span.set(text_length_tokens=len(tokens), tokens=len(tokens))
        with rigscope.span("generate", tokens=len(tokens)):
            samples = synthesize(tokens, VOICES[voice])
        with rigscope.span("encode"):
            audio = encode_wav(samples)
        span.set(audio_s=len(samples) / RATE, bytes=len(audio))
    return audio


class Handler(BaseHTTPRequestHandler):
    server_version = "toy-tts/1"

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path != "/synthesize":
            self._reply(404, b'{"error": "POST /synthesize"}', "application/json")
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            text, voice = str(body.get("text", "")), str(body.get("voice", "alto"))
        except (ValueError, AttributeError):
            self._reply(400, b'{"error": "send JSON: {\\"text\\": ...}"}', "application/json")
            return
        request_id = self.headers.get("X-Request-Id") or f"req-{next(_requests)}"
        try:
            audio = handle(text, voice, request_id)
        except ValueError as error:
            self._reply(400, json.dumps({"error": str(error)}).encode(), "application/json")
            return
        self._reply(200, audio, "audio/wav", request_id)

    def _reply(self, status: int, body: bytes, content_type: str, request_id: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if request_id:
            self.send_header("X-Request-Id", request_id)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (quiet: the monitor has the numbers)
        pass


SENTENCES = [
    "Hello there.",
    "The quick brown fox jumps over the lazy dog.",
    "Monitoring tells you what the hardware did; spans tell you what your code was doing at the time.",
    "One, two, three, four, five!",
    "Thermal throttling lowers the clocks, and every request after it runs a little slower than the one before.",
    "",  # a bad request: its span fails
]


def demo(port: int, requests: int) -> None:
    """Send `requests` requests to the server, in order, and print one line each."""
    for number in range(requests):
        text = SENTENCES[number % len(SENTENCES)]
        voice = list(VOICES)[number % len(VOICES)]
        request = urllib.request.Request(f"http://127.0.0.1:{port}/synthesize", method="POST",
                                         data=json.dumps({"text": text, "voice": voice}).encode(),
                                         headers={"X-Request-Id": f"demo-{number + 1}"})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                audio = response.read()
            with wave.open(io.BytesIO(audio)) as wav:
                seconds = wav.getnframes() / wav.getframerate()
            outcome = f"{seconds:5.2f} s of audio"
        except urllib.error.HTTPError as error:
            outcome = f"HTTP {error.code}: {json.loads(error.read()).get('error')}"
        print(f"demo-{number + 1:<4} {time.perf_counter() - started:6.3f} s  {outcome}  {text[:40]!r}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765; 0: any free one)")
    parser.add_argument("--demo", type=int, metavar="N", help="send N requests to itself, print them, and exit")
    parser.add_argument("--layers", type=int, default=4, help="acoustic model layers: more is slower (default 4)")
    options = parser.parse_args()
    global MODEL
    MODEL = AcousticModel(options.layers)
    server = ThreadingHTTPServer(("127.0.0.1", options.port), Handler)
    port = server.server_address[1]
    if options.demo is None:
        print(f"toy TTS on http://127.0.0.1:{port}/synthesize (Ctrl-C stops)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        return 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rigscope.note(f"tts demo: {options.demo} requests")
    demo(port, options.demo)
    server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
