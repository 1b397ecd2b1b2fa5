"""Request bodies the app could not use whole: chunked ones past the limit, and multipart parts without a name.

Werkzeug reads a body without a Content-Length (chunked) up to
MAX_CONTENT_LENGTH and stops there without saying so: a form twice the limit
arrived cut at the limit and was stored. Here such a body is read (to one byte
past the limit) before the app sees it and handed on with its length, so
Werkzeug's own check answers 413 for one too long, as for a body with a
Content-Length, through the app's error pages.
"""

from __future__ import annotations

import io

from flask import Flask, abort, request


class ChunkedBodyLimit:
    """WSGI middleware around the Flask app's wsgi_app."""

    def __init__(self, wsgi_app, limit: int):
        self.wsgi_app, self.limit = wsgi_app, limit

    def __call__(self, environ, start_response):
        if not environ.get("CONTENT_LENGTH") and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = read_at_most(environ["wsgi.input"], self.limit + 1)
            # Now a body of known length: Werkzeug ignores Content-Length while Transfer-Encoding says chunked.
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            del environ["HTTP_TRANSFER_ENCODING"]
        return self.wsgi_app(environ, start_response)


def read_at_most(stream, size: int) -> bytes:
    parts, left = [], size
    while left > 0 and (part := stream.read(min(left, 65536))):
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def register(app: Flask) -> None:
    """Before CSRFProtect: it looks through the form's names for its token, and a part whose name
    Werkzeug could not read (a line break in it) has None for a name."""

    @app.before_request
    def refuse_nameless_parts():
        if request.mimetype == "multipart/form-data" and (None in request.form or None in request.files):
            abort(400, "A part of this form has no readable name.")
