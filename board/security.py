"""Response headers, cookies Secure over HTTPS only, the request id, and request parts the app cannot read:
cookies and forms whose bytes are not text, bodies that are not forms, a Referer that is not an address."""

from __future__ import annotations

import re
import uuid
from urllib.parse import unquote_to_bytes, urlsplit

import flask
from flask import Flask, abort, g, has_request_context, request
from flask_wtf.csrf import CSRFError
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData
from werkzeug.utils import cached_property

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
# What a browser's form sends; any other body on a form route is refused before a form reads it.
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# Responses that show who is logged in are kept by no cache, shared or the browser's own.
PRIVATE = "no-store"


def request_id() -> str:
    """The caller's id (X-Request-ID, else the AWS load balancer's trace id) when sane, else a new one."""
    for header in ("X-Request-ID", "X-Amzn-Trace-Id"):
        value = request.headers.get(header, "")
        if _SANE_ID.fullmatch(value):
            return value
    return uuid.uuid4().hex


class Request(flask.Request):
    """Cookies with a value that is not ASCII are dropped: every cookie the app sets is ASCII, so such a value
    is not one of ours, and the libraries reading them compare in constant time (hmac.compare_digest), which
    refuses non-ASCII text."""

    @cached_property
    def cookies(self):
        parsed = flask.Request.cookies.fget(self)
        return self.dict_storage_class(
            [(name, value) for name, value in parsed.items(multi=True) if value.isascii()])


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


def undecodable_multipart_field(body: bytes, boundary: bytes) -> bool:
    """Whether a text part (not a file) of a multipart body is not UTF-8; Werkzeug would store it with U+FFFD
    in place of each bad byte. A body Werkzeug cannot parse is left to its own parser's answer."""
    decoder = MultipartDecoder(boundary)
    decoder.receive_data(body)
    decoder.receive_data(None)
    text, chunks = False, []
    try:
        while not isinstance(event := decoder.next_event(), Epilogue | NeedData):
            if isinstance(event, Field | File):
                text, chunks = isinstance(event, Field), []
            elif isinstance(event, Data) and text:
                chunks.append(event.data)
                if not event.more_data:
                    b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        return True
    except ValueError:
        return False
    return False


def readable_referrer() -> bool:
    """Whether the Referer header, if any, is an address that can be taken apart (Flask-WTF compares its
    host and port with ours over HTTPS, and a port past 65535 or an open IPv6 bracket makes that raise)."""
    try:
        _ = urlsplit(request.referrer or "").port
    except ValueError:
        return False
    return True


def shows_a_logged_in_user() -> bool:
    # Flask-Login keeps the user it loaded for this request in g; a response that never asked who is
    # logged in does not depend on it.
    return bool(getattr(g.get("_login_user"), "is_authenticated", False))


def register(app: Flask) -> None:
    app.request_class = Request
    app.response_class = Response

    @app.before_request
    def tag_request():
        g.request_id = request_id()

    @app.before_request
    def refuse_bodies_that_are_not_forms():
        # Only the API answers JSON, and it only reads; Flask-WTF would hand a form whatever JSON came.
        if request.method not in ("GET", "HEAD", "OPTIONS") and request.content_length \
                and request.mimetype not in FORM_TYPES:
            abort(415, "This address takes form data (application/x-www-form-urlencoded or multipart/form-data).")

    @app.before_request
    def refuse_undecodable_forms():
        # Werkzeug keeps undecodable urlencoded bytes as their %-escapes, and multipart ones as U+FFFD, either
        # stored as if typed; say what is wrong instead.
        if not request.content_length:
            return
        if request.mimetype == "application/x-www-form-urlencoded":
            try:
                unquote_to_bytes(request.get_data(cache=True).replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                abort(400, "The form data is not valid UTF-8.")
        boundary = request.mimetype_params.get("boundary", "")
        if request.mimetype == "multipart/form-data" and boundary and boundary.isascii() \
                and undecodable_multipart_field(request.get_data(cache=True), boundary.encode()):
            abort(400, "The form data is not valid UTF-8.")

    @app.before_request
    def refuse_unreadable_referrers():
        # Before CSRFProtect, which reads the Referer of a form sent over HTTPS.
        if request.is_secure and request.method in app.config["WTF_CSRF_METHODS"] and not readable_referrer():
            raise CSRFError("The Referer header is not an address.")

    @app.after_request
    def add_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        response.headers["X-Request-ID"] = g.get("request_id") or request_id()
        if shows_a_logged_in_user():
            response.headers["Cache-Control"] = PRIVATE
        return response
