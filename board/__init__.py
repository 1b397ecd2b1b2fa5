"""board: a message board, and an example of shipping Flask to Elastic Beanstalk."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

STATIC_FOLDER = Path(__file__).resolve().parent.parent / "static"


def create_app(overrides: Mapping | None = None, environ: Mapping | None = None) -> Flask:
    """Build the app: config → extensions → blueprints → errors → CLI.

    `environ` stands in for os.environ and `overrides` is applied over what it
    says (both for tests).
    """
    # Flask is imported here, not above: `python -m board.upgrade` runs in every deployment and needs only
    # board.config from the package.
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from . import config

    # static/ sits at the top of the bundle, where the Python platform's nginx serves /static from by default.
    app = Flask(__name__, instance_relative_config=True, static_folder=str(STATIC_FOLDER))
    try:
        app.config.from_mapping(config.app_config(app.instance_path, environ))
    except config.ConfigError as error:
        # One clear line, no traceback: gunicorn and flask both exit non-zero.
        print(f"board: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    if overrides:
        app.config.from_mapping(overrides)

    from . import bodies, hosts, logs, models, reads, security  # noqa: F401  (models registers the tables for Flask-Migrate)
    from .extensions import csrf, db, login_manager, migrate

    logs.configure(app)
    # Around the whole app: a chunked body is measured before anything reads it.
    app.wsgi_app = bodies.ChunkedBodyLimit(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])
    if app.config["PROXY_HOPS"]:
        # The client is the address the outermost trusted proxy appended to X-Forwarded-For; what a
        # client wrote there itself is ignored. The scheme stays gunicorn's (FORWARDED_ALLOW_IPS).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_HOPS"], x_proto=0)
    # First, so every request has its id and raw-body checks run before CSRF reads the form.
    security.register(app)
    hosts.register(app)
    bodies.register(app)

    db.init_app(app)
    reads.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)

    from . import api, auth, cli, errors, health, migration_safety, pages, posts

    for blueprint in (health.bp, pages.bp, auth.bp, posts.bp, api.bp):
        app.register_blueprint(blueprint)
    errors.register(app)
    cli.register(app)
    migration_safety.register()
    return app
