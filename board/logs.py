"""The app's log lines: a stream on stdout (the platform collects it), each tagged with the request's id."""

from __future__ import annotations

import logging
import sys

from flask import Flask, g, has_request_context
from flask.logging import default_handler


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # g.request_id is set first thing in every request (security.py); outside one, "-".
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class _StdoutHandler(logging.StreamHandler):
    """Marks the handler this module installed, so a second create_app() adds none."""


def configure(app: Flask) -> None:
    app.logger.removeHandler(default_handler)
    if not any(isinstance(h, _StdoutHandler) for h in app.logger.handlers):
        handler = _StdoutHandler(sys.stdout)
        handler.addFilter(RequestIdFilter())
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s rid=%(request_id)s %(message)s"))
        app.logger.addHandler(handler)
    app.logger.setLevel(app.config["LOG_LEVEL"])
