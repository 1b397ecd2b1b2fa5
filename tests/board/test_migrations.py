"""Migrations on a real PostgreSQL: reversible, in step with the models, safe to run at once."""

import os
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from testkit.tree import ROOT, migration_head


def flask_db(url: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "APP_ENV": "test", "DATABASE_URL": url, "FLASK_APP": "board"}
    return subprocess.Popen([sys.executable, "-m", "flask", "db", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run(url: str, *args: str) -> str:
    process = flask_db(url, *args)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    return output


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_round_trip(postgres_database):
    run(postgres_database, "upgrade")
    assert {"authors", "posts", "alembic_version"} <= tables(postgres_database)
    run(postgres_database, "downgrade", "base")
    assert tables(postgres_database) == {"alembic_version"}
    run(postgres_database, "upgrade")
    assert {"authors", "posts"} <= tables(postgres_database)


def test_models_and_migrations_do_not_drift(postgres_database):
    run(postgres_database, "upgrade")
    output = run(postgres_database, "check")
    assert "No new upgrade operations detected" in output


# `flask db upgrade` once a go-file appears: the app is built first, so the
# three processes reach the database within milliseconds of each other.
UPGRADE_AT_SIGNAL = """
import sys, time
from pathlib import Path
from board import create_app
from flask_migrate import upgrade
app = create_app()
Path(sys.argv[2]).touch()
while not Path(sys.argv[1]).exists():
    time.sleep(0.005)
with app.app_context():
    upgrade()
"""


def test_three_concurrent_upgrades_apply_the_schema_once(postgres_database, tmp_path):
    env = {**os.environ, "APP_ENV": "test", "DATABASE_URL": postgres_database}
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{n}" for n in range(3)]
    processes = [subprocess.Popen([sys.executable, "-c", UPGRADE_AT_SIGNAL, str(go), str(flag)], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for flag in ready]
    deadline = time.monotonic() + 60
    while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    applied = [o for o in outputs if "Running upgrade  -> 0001" in o]
    assert len(applied) == 1, outputs
    engine = sa.create_engine(postgres_database)
    try:
        with engine.connect() as conn:
            versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
            assert versions == [migration_head()]
    finally:
        engine.dispose()


def database(backend: str, tmp_path, request) -> str:
    """An empty database on `backend`."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'board.sqlite'}"
    return request.getfixturevalue("postgres_database")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_authors_from_before_session_tokens_each_get_their_own(backend, tmp_path, request):
    from board.sessions import TOKEN_SHAPE

    url = database(backend, tmp_path, request)
    run(url, "upgrade", "0002")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO authors (name, email, password_hash, created_at) VALUES "
                                 "('A', 'a@example.com', 'x', CURRENT_TIMESTAMP), "
                                 "('B', 'b@example.com', 'x', CURRENT_TIMESTAMP)"))
        run(url, "upgrade")
        with engine.connect() as conn:
            tokens = conn.execute(sa.text("SELECT session_token FROM authors")).scalars().all()
        assert len(set(tokens)) == 2 and all(TOKEN_SHAPE.fullmatch(token) for token in tokens), tokens
        run(url, "downgrade", "0002")
        run(url, "upgrade")
    finally:
        engine.dispose()


def columns(url: str) -> dict[str, list[tuple[str, str, bool]]]:
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        return {table: [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)]
                for table in inspector.get_table_names() if table != "alembic_version"}
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_login_sessions_arrive_as_a_new_table_the_previous_release_can_run_beside(backend, tmp_path, request):
    url = database(backend, tmp_path, request)
    run(url, "upgrade", "0003")
    before = columns(url)
    run(url, "upgrade", "0004")
    after = columns(url)
    assert set(after) - set(before) == {"login_sessions"}
    assert {table: after[table] for table in before} == before  # authors.session_token stays, as it was
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:  # what the previous release writes still goes in
            conn.execute(sa.text("INSERT INTO authors (name, email, password_hash, created_at, session_token) "
                                 "VALUES ('A', 'a@example.com', 'x', CURRENT_TIMESTAMP, :token)"), {"token": "0" * 64})
    finally:
        engine.dispose()
    run(url, "downgrade", "0003")
    assert columns(url) == before
