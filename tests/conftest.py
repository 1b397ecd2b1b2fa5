"""Shared fixtures, after the Flask tutorial's: app, client, runner.

Every test that uses `app` runs twice: on SQLite and on a real PostgreSQL
(TEST_DATABASE_URL, or a throwaway cluster started once per session).
"""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

from board import config, create_app
from board.extensions import db
from testkit import pgcluster
from testkit.components import unavailable

pytest_plugins = ["tests.aws_fixtures"]


@pytest.fixture
def postgres_binaries():
    """PostgreSQL's binaries on PATH, for code that starts a server of its own (the release gate)."""
    if missing := pgcluster.binaries_missing():
        unavailable("REQUIRE_POSTGRES", missing)


@pytest.fixture(scope="session")
def postgres_url():
    """A superuser URL of a PostgreSQL server (the `postgres` database)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield config.database_url({"DATABASE_URL": url}, "")  # as the app reads a URL
        return
    missing = pgcluster.binaries_missing()
    if missing:
        unavailable("REQUIRE_POSTGRES", missing)
    cluster = pgcluster.create_cluster()
    try:
        yield cluster.url
    finally:
        cluster.remove()


@pytest.fixture
def postgres_database(postgres_url):
    """A new, empty PostgreSQL database for one test; dropped afterwards."""
    name = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_app_database(postgres_url):
    """One PostgreSQL database at the migrations' head, shared by the app tests."""
    name = "board_app_tests"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    upgrade(make_app(url))
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def make_app(database_url: str, **overrides):
    environ = {"APP_ENV": "test", "DATABASE_URL": database_url}
    environ.update(overrides.pop("environ", {}))
    return create_app(overrides or None, environ=environ)


def upgrade(app):
    from flask_migrate import upgrade as flask_db_upgrade

    with app.app_context():
        flask_db_upgrade()
        db.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'board.sqlite'}"
        upgrade(make_app(url))
        yield url
        return
    url = request.getfixturevalue("postgres_app_database")
    yield url
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = ", ".join(table.name for table in db.metadata.sorted_tables)
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def app(database_url):
    app = make_app(database_url)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def docker_engine():
    """A Docker engine with compose v2 (skip, or fail under REQUIRE_DOCKER=1, without one)."""
    from testkit.compose import require_docker

    require_docker()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def pytest_collection_modifyitems(items):
    """Every test that needs the Docker engine carries the `docker` mark, so `-m "not docker"` leaves out every
    test that starts containers."""
    for item in items:
        if "docker_engine" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.docker)
