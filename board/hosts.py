"""Which host names the site answers to (TRUSTED_HOSTS), and links built from them.

Flask's own TRUSTED_HOSTS would refuse every request naming another host,
health checks included, and load balancers send those with the instance's IP
address as the host. So the check is here, for everything but the health
blueprint; the API's absolute links name the request's host only once it has
passed, and are plain paths when no host is configured.
"""

from __future__ import annotations

from flask import Flask, abort, current_app, request, url_for
from werkzeug.sansio.utils import host_is_trusted

UNCHECKED_BLUEPRINTS = frozenset({"health"})


def trusted_hosts() -> list[str]:
    return current_app.config["BOARD_TRUSTED_HOSTS"]


def link(endpoint: str, **values) -> str:
    """A link to `endpoint`: absolute when the host is one of TRUSTED_HOSTS, else a path."""
    return url_for(endpoint, _external=bool(trusted_hosts()), **values)


def register(app: Flask) -> None:
    @app.before_request
    def refuse_other_hosts():
        hosts = trusted_hosts()
        if hosts and request.blueprint not in UNCHECKED_BLUEPRINTS and not host_is_trusted(request.host, hosts):
            abort(400, "This site does not answer to that host name.")
