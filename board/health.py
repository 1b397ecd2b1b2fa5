"""Liveness, readiness and the deployed version."""

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    # Liveness only: EB's health check hits this, and a database blip must not
    # make it replace healthy instances.
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        db.session.rollback()
        current_app.logger.warning("readiness check failed: %s", error.__class__.__name__)
        return jsonify(status="unavailable", reason="database unreachable"), 503
    return jsonify(status="ok")


@bp.get("/version")
def version():
    return jsonify(version=current_app.config["APP_VERSION"], schema=schema_head())


def schema_head() -> str | None:
    """The newest revision in migrations/ (what this code expects), without touching the DB."""
    from alembic.script import ScriptDirectory

    migrate = current_app.extensions["migrate"]
    script = ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory))
    return script.get_current_head()
