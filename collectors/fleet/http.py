"""One HTTP GET with a timeout and credentials, its failures turned into one clear line (`FetchError`).

The standard library is enough: requests run in worker threads (a pool for direct
scrapes), never on the screen's event loop, so no async client is needed.  The timeout
bounds the whole request (connect, headers and body): `urlopen`'s own only bounds each
socket read, so a target trickling a line a second would hold a scrape for good.
"""

from __future__ import annotations

import base64
import http.client
import io
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

MAX_BODY = 32 * 1024 * 1024  # a /metrics page or an API answer larger than this is refused, not read


class FetchError(Exception):
    """A request that gave no usable answer: `str()` is the line to show (where, then what), `reason` the what
    alone, `status` the HTTP status if any."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{_where(url)} {reason}")
        self.reason, self.status = reason, status


@dataclass(frozen=True)
class Auth:
    bearer: str | None = None
    basic: str | None = None  # "user:password"

    @classmethod
    def from_env(cls, bearer: str | None, basic: str | None) -> Auth:
        return cls(bearer or os.environ.get("RIGSCOPE_FLEET_TOKEN") or None,
                   basic or os.environ.get("RIGSCOPE_FLEET_BASIC_AUTH") or None)

    def headers(self) -> dict[str, str]:
        if self.bearer:
            return {"Authorization": f"Bearer {self.bearer}"}
        if self.basic:
            return {"Authorization": "Basic " + base64.b64encode(self.basic.encode()).decode()}
        return {}


def get(url: str, timeout_s: float, auth: Auth | None = None, params: dict[str, str] | None = None) -> bytes:
    if params:
        url = f"{url}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url, headers={"Accept": "*/*", **(auth.headers() if auth else {})})
    deadline = time.monotonic() + timeout_s
    opener = urllib.request.build_opener(_HTTPHandler(deadline), _HTTPSHandler(deadline))
    try:
        with opener.open(request, timeout=timeout_s) as response:
            body = response.read(MAX_BODY + 1)
    except urllib.error.HTTPError as error:
        words = {401: "refused the credentials", 403: "refused the credentials",
                 503: "is unavailable"}.get(error.code, "answered")
        raise FetchError(url, f"{words} ({error.code} {error.reason})", error.code) from None
    except TimeoutError:
        raise FetchError(url, f"timed out after {timeout_s:g} s") from None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise FetchError(url, f"timed out after {timeout_s:g} s") from None
        raise FetchError(url, f"cannot be reached ({reason})") from None
    except (OSError, ValueError) as error:  # reset mid-answer, a malformed URL
        raise FetchError(url, f"failed ({error})") from None
    if len(body) > MAX_BODY:
        raise FetchError(url, f"answered more than {MAX_BODY // 2**20} MiB")
    return body


class _DeadlineReader(io.RawIOBase):
    """A socket's reads, each allowed only the time left before the request's deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock, self._deadline = sock, deadline
        self._raw = sock.makefile("rb", buffering=0)  # the socket's own reader: the socket stays open while it is

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request's deadline passed")
        self._sock.settimeout(left)
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineSocket:
    """The connection's socket as `http.client` uses it, its answer read through a `_DeadlineReader`."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock, self._deadline = sock, deadline

    def makefile(self, mode: str, *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))

    def __getattr__(self, name: str) -> Any:  # sendall, close, settimeout: the socket's own
        return getattr(self._sock, name)


class _DeadlineConnection(http.client.HTTPConnection):
    """A connection whose connect is bounded by the timeout given and whose answer by the deadline."""

    def __init__(self, *args: Any, deadline: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def connect(self) -> None:
        super().connect()
        self.sock = _DeadlineSocket(self.sock, self.deadline)


class _DeadlineHTTPSConnection(_DeadlineConnection, http.client.HTTPSConnection):
    """The same over TLS: `HTTPSConnection.connect` wraps the socket first, the deadline then wraps that."""


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_DeadlineConnection, req, deadline=self.deadline)  # type: ignore[arg-type]  # a keyword of its own


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_DeadlineHTTPSConnection, req, deadline=self.deadline)  # type: ignore[arg-type]  # a keyword of its own


def _where(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.netloc}{parts.path}"
