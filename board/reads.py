"""The read path: pages that only read take their rows from `reads.session()`.

Its engines are clients the database itself keeps read-only, so a write on the
read path fails at once, on PostgreSQL and SQLite alike, whatever the request
did before (the login check and every write use `db.session`, on the primary
engine of Flask-SQLAlchemy):

- PostgreSQL: connections log in with `default_transaction_read_only` on (a
  connect option: no statement of its own) and run in autocommit, so a read is
  its query alone, with no BEGIN or ROLLBACK around it; with the pool's ping, a
  page that sends one query costs two round trips.
- SQLite: the file opened read-only by SQLite (`mode=ro`), in autocommit, so
  each query sees the latest commit, in rollback-journal and WAL mode alike.

Reads go to a read replica or an Aurora reader endpoint when one is configured
(DATABASE_READ_URL or RDS_READ_HOSTNAME), else to the primary. A replica
applies writes a moment late, so a client whose request committed on the
primary gets a cookie that sends its reads to the primary for READ_YOUR_WRITES
seconds: the page after a post shows the post.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, has_request_context, request
from sqlalchemy.orm import Session

from .extensions import db

COOKIE = "read_primary"  # its presence, whatever its value, is all it says
_KEY = "board.reads"


@dataclass(frozen=True)
class Engines:
    primary: sa.Engine  # read-only, on the primary database
    replica: sa.Engine | None  # read-only, on the replica or reader endpoint, if one is configured


def init_app(app: Flask) -> None:
    primary_url = app.config["SQLALCHEMY_DATABASE_URI"]
    read_url = app.config["READ_DATABASE_URI"]
    primary = read_only_engine(primary_url, app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    replica = None if read_url == primary_url else read_only_engine(read_url, app.config["READ_ENGINE_OPTIONS"])
    app.extensions[_KEY] = Engines(primary, replica)
    app.teardown_appcontext(_close)
    if replica is not None:
        with app.app_context():
            sa.event.listen(db.engine, "commit", _wrote)
        app.after_request(_read_primary_for_a_while)


def read_only_engine(url: str, options: dict) -> sa.Engine:
    """An autocommit engine on `url` whose connections the database opens read-only."""
    parsed = sa.make_url(url)
    connect_args = dict(options.get("connect_args", {}))
    if parsed.get_backend_name() == "sqlite":
        path = quote(parsed.database or "", safe="/")
        parsed = parsed.set(database=f"file:{path}", query={**parsed.query, "mode": "ro", "uri": "true"})
    elif parsed.get_backend_name() == "postgresql":
        given = parsed.query.get("options", "")  # libpq options a URL may carry already
        connect_args["options"] = f"{given} -c default_transaction_read_only=on".strip()
    return sa.create_engine(parsed, **{**options, "connect_args": connect_args, "isolation_level": "AUTOCOMMIT"})


def engines(app: Flask | None = None) -> Engines:
    return (app or current_app).extensions[_KEY]


def session() -> Session:
    """This request's read session (closed with the app context)."""
    if "reads" not in g:
        g.reads = Session(bind=_engine())
    return g.reads


def _engine() -> sa.Engine:
    chosen = engines()
    if chosen.replica is None or g.get("wrote") or (has_request_context() and COOKIE in request.cookies):
        return chosen.primary
    return chosen.replica


def _wrote(_connection) -> None:
    if has_request_context():
        g.wrote = True


def _read_primary_for_a_while(response: Response) -> Response:
    if g.get("wrote"):
        seconds = int(current_app.config["READ_YOUR_WRITES"].total_seconds())
        response.set_cookie(COOKIE, "1", max_age=seconds, httponly=True, samesite="Lax")
    return response


def _close(_error) -> None:
    read_session = g.pop("reads", None)
    if read_session is not None:
        read_session.close()
