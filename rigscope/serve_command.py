"""`rigscope serve`: `rigscope attach` in a browser (textual-serve), each tab a viewer of the one recorder.

Loopback by default.  Every request needs the token, checked before anything runs
(401 otherwise): `--token`'s (required for another host), else one made at start and
printed, since any user of the box reaches a loopback port.  The page is opened once as
`/?token=TOKEN`, which sets a cookie for the page's own requests.  Read-only unless `--allow-actions`
(`k` and `r` are off; notes and tags still go to the recorder).  The page's URLs
are relative to the address the browser used, so an `ssh -L` tunnel works.

Without SESSION each new tab attaches to the newest recorder running when it opens (a tab already open
stays on its own, and says when it ends); with SESSION to that one only.  A tab opened while no recorder
it may attach to runs gets one line saying so, before any dashboard starts.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import secrets
import shlex
import sys
from typing import Any
from urllib.parse import quote

from recordings.errors import InputError
from rigscope.attach_client import find_attach_point
from rigscope.local_channel import live_attach_points
from rigscope.serve.addresses import binds_loopback_only

COOKIE = "rigscope_token"


def run(args: argparse.Namespace) -> int:
    if not binds_loopback_only(args.host) and not args.token:
        print(f"rigscope serve: error: --host {args.host} is reachable from the network: give --token",
              file=sys.stderr)
        return 2
    try:
        from textual_serve.server import Server  # noqa: F401 (an extra: say how to get it)
    except ImportError:
        raise InputError("rigscope serve needs textual-serve: pip install 'rigscope[serve]'") from None
    check_listen(args.host, args.port)
    session, _ = find_attach_point(args.session)
    pinned = None if args.session in (None, "latest") else session
    command = [sys.executable, "-m", "rigscope", "attach"] + ([pinned] if pinned else [])
    if args.dir:
        command += ["--dir", args.dir]
    if not args.allow_actions:
        command.append("--readonly")
    token = args.token or secrets.token_urlsafe(16)
    server = make_server(shlex.join(command), args.host, args.port, token, pinned)
    shown = pinned or f"(your newest running recorder, now {session})"
    print(f"rigscope: serving rigscope attach {shown} on http://{_shown(args.host)}:{args.port}/?token={quote(token, safe='')}"
          + ("" if args.allow_actions else " (read-only: k and r off)"), file=sys.stderr, flush=True)
    server.serve()
    return 0


def check_listen(host: str, port: int) -> None:
    """One line, before anything starts, when the address is taken or not this machine's."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: only a listener blocks
            probe.bind((host, port))
    except (OSError, OverflowError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InputError(f"--host {_shown(host)} --port {port}: cannot listen ({reason})") from None


def _shown(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def make_server(command: str, host: str, port: int, token: str, pinned: str | None = None) -> Any:
    """A textual-serve server of `command` whose page uses the browser's own address, behind the token; its
    page says so instead when no recorder runs to attach to (session `pinned`'s, else any)."""
    from aiohttp import web
    from textual_serve.server import Server

    class RelativeServer(Server):
        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.insert(0, _token_check(token))
            return app

        async def handle_index(self, request: web.Request) -> Any:
            if refusal := await _refusal(pinned):
                return refusal
            self.public_url = f"{request.scheme}://{request.host}"  # the tunnel's end, as the browser sees it
            return await super().handle_index(request)

        async def handle_websocket(self, request: web.Request) -> Any:  # a page left open reconnects here
            return await _refusal(pinned) or await super().handle_websocket(request)

        async def on_startup(self, app: web.Application) -> None:  # textual-serve's banner: ours is printed
            return None

        def initialize_logging(self) -> None:
            # Errors only: textual-serve's access log wrote every URL, the token of `/?token=` included.
            logging.basicConfig(level=logging.WARNING, format="rigscope serve: %(message)s")

    return RelativeServer(command, host=host, port=port, title="rigscope")


async def _refusal(pinned: str | None) -> Any:
    """The answer to a request for a dashboard while no recorder runs that it may attach to, else None."""
    from aiohttp import web

    missing = await asyncio.to_thread(_no_recorder, pinned)
    return web.Response(status=410 if pinned else 503, text=f"rigscope serve: {missing}\n") if missing else None


def _no_recorder(pinned: str | None) -> str | None:
    """Why a new tab cannot attach now, or None when it can."""
    if live_attach_points(pinned):
        return None
    if pinned is None:
        return "no recorder is running now (start one with: rigscope record, then reload this page)"
    return f"the recorder of {pinned} has ended (its session: rigscope replay {pinned})"


def _token_check(token: str) -> Any:
    from aiohttp import web

    @web.middleware
    async def check(request: web.Request, handler: Any) -> web.StreamResponse:
        given = request.query.get("token") or request.cookies.get(COOKIE) or ""
        bearer = request.headers.get("Authorization", "")
        if bearer.startswith("Bearer "):
            given = bearer[7:]
        if not hmac.compare_digest(given.encode(), token.encode()):
            return web.Response(status=401, text="401: a token is needed (open /?token=TOKEN)\n")
        response = await handler(request)
        if request.query.get("token"):
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict")
        return response

    return check
