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
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

MAX_BODY = 32 * 1024 * 1024  # a /metrics page larger than this is refused, not read


class FetchError(Exception):
    """A request that gave no usable answer: `str()` is the line to show (where, then what), `reason` the what
    alone, `status` the HTTP status if any."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{where(url)} {reason}")
        self.reason, self.status = reason, status


@dataclass(frozen=True)
class Auth:
    bearer: str | None = None
    basic: str | None = None  # "user:password"

    @classmethod
    def from_env(cls, bearer: str | None, basic: str | None) -> Auth:
        """The flags', else the environment's; without the line break a secret read from a file ends with."""
        bearer = (bearer or os.environ.get("RIGSCOPE_FLEET_TOKEN") or "").strip()
        basic = (basic or os.environ.get("RIGSCOPE_FLEET_BASIC_AUTH") or "").strip()
        return cls(bearer or None, basic or None)

    def headers(self) -> dict[str, str]:
        if self.bearer:
            return {"Authorization": f"Bearer {self.bearer}"}
        if self.basic:
            return {"Authorization": "Basic " + base64.b64encode(self.basic.encode()).decode()}
        return {}


def get(url: str, timeout_s: float, auth: Auth | None = None, params: dict[str, str] | None = None,
        max_bytes: int | None = None) -> bytes:
    """The body of `url`, refused when over `max_bytes` (default `MAX_BODY`); credentials in the URL
    (`https://user:pass@host/`) are its basic auth, unless `auth` gives some."""
    limit = max_bytes or MAX_BODY
    url, from_url = _split_credentials(url)
    if params:
        url = f"{url}?{urllib.parse.urlencode(params)}"
    headers = (auth.headers() if auth else {}) or (from_url.headers() if from_url else {})
    deadline = time.monotonic() + timeout_s
    opener = urllib.request.build_opener(_DeadlineHandler(deadline), _RedirectHandler())
    try:
        request = urllib.request.Request(url, headers={"Accept": "*/*", **headers})
        with opener.open(request, timeout=timeout_s) as response:
            body = response.read(limit + 1)
            length = response.headers.get("Content-Length", "")
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
    except http.client.IncompleteRead as error:
        raise FetchError(url, f"failed (cut short after {len(error.partial)} bytes)") from None
    except http.client.HTTPException as error:  # not HTTP, a bad status line, a malformed host or port
        raise FetchError(url, f"failed ({type(error).__name__}: {str(error)[:120]})") from None
    except (OSError, ValueError) as error:  # reset mid-answer, a malformed URL, a header `http.client` refuses
        what = "a credential holds a control character" if "header value" in str(error) else str(error)  # not it
        raise FetchError(url, f"failed ({what})") from None
    if len(body) > limit:
        raise FetchError(url, f"answered more than {limit / 2**20:g} MiB")
    if length.isdigit() and len(body) < int(length):  # a read of a given size returns what came, short or not
        raise FetchError(url, f"failed (cut short: {len(body)} of {length} bytes)")
    return body


def url_problem(url: str) -> str | None:
    """Why `url` cannot be read as given, in a few words; None when it can."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (its check: a port that is no number, or out of range)
    except ValueError as error:
        return str(error)
    if parts.scheme not in ("http", "https"):
        return "not http:// or https://"
    if not parts.hostname:
        return "no host"
    if any(c.isspace() or not c.isprintable() for c in url):
        return "a space or control character in it"
    return None


def without_credentials(url: str) -> str:
    """The URL as it may be shown: its `user:password@` left out."""
    return re.sub(r"//[^/@]*@", "//", url, count=1)


def where(url: str) -> str:
    """`host:port/path` of a URL, as the lines name it: never its credentials or query."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url.rpartition("@")[2].split("?", 1)[0]
    return f"{parts.netloc.rpartition('@')[2]}{parts.path}"


def _split_credentials(url: str) -> tuple[str, Auth | None]:
    """The URL without its `user:password@`, and those as basic auth (percent-escapes decoded)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url, None  # malformed: `urlopen` says so, as one line
    if "@" not in parts.netloc:
        return url, None
    user, _, password = parts.netloc.rpartition("@")[0].partition(":")
    basic = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}"
    return without_credentials(url), Auth(basic=basic)


def _same_server(old: str, new: str) -> bool:
    """Whether a redirect from `old` to `new` stays on the server the credentials were given for: the same host,
    scheme and port, or the upgrade of http on its port 80 to https on 443 (as `requests` judges it)."""
    def origin(url: str) -> tuple[str, str | None, int | None]:
        parts = urllib.parse.urlsplit(url)
        return parts.scheme, parts.hostname, parts.port or {"http": 80, "https": 443}.get(parts.scheme)

    was, goes = origin(old), origin(new)
    return was == goes or (was == ("http", goes[1], 80) and goes == ("https", was[1], 443))


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Redirects followed as `urllib` does, but the credentials go only to the server they were given for."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and not _same_server(req.full_url, new.full_url):
            new.remove_header("Authorization")
        return new


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


class _DeadlineHandler(urllib.request.HTTPHandler, urllib.request.HTTPSHandler):
    """http and https both opened on deadline connections (a subclass of both: `build_opener` adds neither)."""

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_DeadlineConnection, req, deadline=self.deadline)  # type: ignore[arg-type]  # a keyword of its own

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_DeadlineHTTPSConnection, req, context=self._context,  # type: ignore[arg-type,attr-defined]
                            deadline=self.deadline)
