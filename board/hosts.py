"""Which host names the site answers to (TRUSTED_HOSTS), and links built from them.

Flask's own TRUSTED_HOSTS would refuse every request naming another host,
health checks included, and load balancers send those with the instance's IP
address as the host. So the check is here, for everything but the health
blueprint; the API's absolute links name the request's host only once it has
passed, and are plain paths when no host is configured.

A host name is compared as DNS compares it: case aside, and with or without
the final dot of a fully qualified name. A link keeps the request's port
only when TRUSTED_HOSTS names that port with the host (`localhost:8000`):
any other port is the client's to say, and would otherwise be repeated in
every link it is sent (to a cache, say).
"""

from __future__ import annotations

import re

from flask import Flask, abort, current_app, request, url_for
from werkzeug.sansio.utils import host_is_trusted

UNCHECKED_BLUEPRINTS = frozenset({"health"})
HOST = re.compile(r"(?P<name>\[[^\]]*\]|[^:]*)(?::(?P<port>[0-9]*))?")


def trusted_hosts() -> list[str]:
    return [canonical(host) for host in current_app.config["BOARD_TRUSTED_HOSTS"]]


def split(host: str) -> tuple[str, str]:
    """(name, port) of a Host header, the name lower-cased and without a final dot; port "" when none."""
    match = HOST.fullmatch(host)
    if match is None:
        return host, ""
    name = match["name"].lower()
    return name.removesuffix(".") if name != "." else name, match["port"] or ""


def canonical(host: str) -> str:
    name, port = split(host)
    return f"{name}:{port}" if port else name


def origin() -> str:
    """scheme://host of the request, with its port only where TRUSTED_HOSTS names it."""
    name, port = split(request.host)
    netloc = f"{name}:{port}" if port and f"{name}:{port}" in trusted_hosts() else name
    return f"{request.scheme}://{netloc}"


def link(endpoint: str, **values) -> str:
    """A link to `endpoint`: absolute when the host is one of TRUSTED_HOSTS, else a path."""
    path = url_for(endpoint, **values)
    return origin() + path if trusted_hosts() else path


def register(app: Flask) -> None:
    @app.before_request
    def refuse_other_hosts():
        hosts = trusted_hosts()
        if hosts and request.blueprint not in UNCHECKED_BLUEPRINTS \
                and not host_is_trusted(canonical(request.host), hosts):
            abort(400, "This site does not answer to that host name.")
