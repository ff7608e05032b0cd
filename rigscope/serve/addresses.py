"""Listen and client addresses of the HTTP sink: what counts as loopback, the warning for anything wider, and
which `Host` headers name this machine."""

from __future__ import annotations

import ipaddress
import socket


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ::ffff:127.x.y.z (client addresses are IP literals)."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def binds_loopback_only(host: str) -> bool:
    """Whether a listen address can only be reached from this machine (a name counts when it resolves so)."""
    if host == "localhost" or is_loopback(host):
        return True
    try:
        ipaddress.ip_address(host)
        return False  # an IP literal that is not loopback (0.0.0.0, ::, a LAN address)
    except ValueError:
        pass
    try:
        resolved = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(resolved) and all(is_loopback(str(address)) for address in resolved)


def exposure_warning(host: str, port: int) -> str | None:
    """The one-line warning for an endpoint reachable from the network, or None on loopback."""
    if binds_loopback_only(host):
        return None
    return (f"rigscope: warning: --http {show_host(host)}:{port} can be reached from the network; "
            "its GET endpoints have no authentication")


def show_host(host: str) -> str:
    """A host as it is written before `:PORT` (an IPv6 literal in brackets)."""
    return f"[{host}]" if ":" in host else host


def names_this_machine(host_header: str | None, hostname: str) -> bool:
    """Whether a request's `Host` is a loopback address, `localhost` (or a name under it) or `hostname`.

    A page in a browser that points a name of its own at 127.0.0.1 (DNS rebinding) sends that name; a
    request without `Host` (HTTP/1.0) comes from no browser."""
    if not host_header:
        return True
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:9700
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    host = host.rstrip(".")
    return (is_loopback(host) or host == "localhost" or host.endswith(".localhost")
            or host in {hostname.lower(), hostname.lower().partition(".")[0]})
