"""Response headers, cookies Secure over HTTPS only, the request id, and forms whose bytes are not text."""

from __future__ import annotations

import re
import uuid
from urllib.parse import unquote_to_bytes

import flask
from flask import Flask, abort, g, has_request_context, request

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    # No inline script or style anywhere: templates link static files only.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
}
# Only on HTTPS responses (behind EB's load balancer gunicorn learns the scheme
# from X-Forwarded-Proto): browsers then refuse plain HTTP to this host for a
# year. No includeSubDomains: other hosts under the domain are not ours to pin.
HSTS = "max-age=31536000"
_SANE_ID = re.compile(r"[A-Za-z0-9._:;=/+-]{1,200}")


def request_id() -> str:
    """The caller's id (X-Request-ID, else the AWS load balancer's trace id) when sane, else a new one."""
    for header in ("X-Request-ID", "X-Amzn-Trace-Id"):
        value = request.headers.get(header, "")
        if _SANE_ID.fullmatch(value):
            return value
    return uuid.uuid4().hex


class Response(flask.Response):
    """Every cookie the app sets (the session, Flask-Login's remember-me) is
    Secure exactly when the request came over HTTPS.

    Behind EB's load balancer gunicorn learns the scheme from X-Forwarded-Proto,
    trusted only from FORWARDED_ALLOW_IPS. A new environment is served at a
    plain http:// address, where a browser would drop Secure cookies and every
    form would fail as expired; over HTTPS they never travel unencrypted.
    """

    def set_cookie(self, key: str, *args, **kwargs) -> None:
        if has_request_context() and request.is_secure:
            kwargs["secure"] = True
        super().set_cookie(key, *args, **kwargs)


def register(app: Flask) -> None:
    app.response_class = Response

    @app.before_request
    def tag_request():
        g.request_id = request_id()

    @app.before_request
    def refuse_undecodable_forms():
        # Werkzeug keeps undecodable form bytes as their %-escapes, which would be
        # stored as if typed; say what is wrong instead.
        if request.mimetype == "application/x-www-form-urlencoded" and request.content_length:
            try:
                unquote_to_bytes(request.get_data(cache=True).replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                abort(400, "The form data is not valid UTF-8.")

    @app.after_request
    def add_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        response.headers["X-Request-ID"] = g.get("request_id") or request_id()
        return response
