"""One HTTP GET with a timeout and credentials, its failures turned into one clear line (`FetchError`).

The standard library is enough: requests run in worker threads (a pool for direct
scrapes), never on the screen's event loop, so no async client is needed.
"""

from __future__ import annotations

import base64
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

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
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
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


def _where(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.netloc}{parts.path}"
