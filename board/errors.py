"""Error responses: HTML pages, JSON under /api, never a traceback."""

from __future__ import annotations

from flask import Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

CSRF_MESSAGE = "This form has expired or did not come from this site. Please go back, reload and try again."
DB_MESSAGE = "The database is not reachable right now. Please try again in a moment."


def respond(error: HTTPException):
    description = error.description if error.code != 500 else InternalServerError.description
    # The error's own headers (Allow on a 405, WWW-Authenticate and the like), not its content type.
    headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
    if request.path.startswith("/api/"):
        return {"error": error.name, "message": description}, error.code, headers
    return error_page(error, description), error.code, headers


def error_page(error: HTTPException, description: str) -> str:
    """The site's error page, or, when even that cannot be made (the layout asks who is logged in, which
    may be what failed), a bare one: the error handler itself must never fail."""
    try:
        return render_template("error.html", error=error, message=description)
    except Exception:
        current_app.logger.exception("the error page could not be rendered; a plain one was sent")
        return (f"<!doctype html><html lang=\"en\"><title>{error.code} {escape(error.name)}</title>"
                f"<h1>{escape(error.name)}</h1><p>{escape(description)}</p></html>")


def http_error(error: HTTPException):
    if isinstance(error, CSRFError):
        error.description = CSRF_MESSAGE
    return respond(error)


def database_unavailable(error: DBAPIError):
    from .extensions import db

    if getattr(error.orig, "sqlite_errorname", None) == "SQLITE_READONLY":
        return unexpected(error)  # a write in a @read_only view: a bug, as PostgreSQL's error for it says
    db.session.rollback()
    current_app.logger.error("database unavailable: %s", error.__class__.__name__)
    return respond(ServiceUnavailable(DB_MESSAGE))


def unexpected(error: Exception):
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return respond(InternalServerError())


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error)
    # A restarting or failing-over database: a clean 503, and pool_pre_ping
    # heals the pool on the next request.
    app.register_error_handler(OperationalError, database_unavailable)
    app.register_error_handler(Exception, unexpected)
