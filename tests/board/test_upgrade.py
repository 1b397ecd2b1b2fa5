"""`python -m board.upgrade`, the deployments' migration step: `flask db upgrade` unless the database is at head.

On a real PostgreSQL. Whether `flask db upgrade` ran shows in the output: Alembic's "Context impl" line is
printed only once it has loaded the app and connected.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from board.upgrade import at_head, script_heads
from testkit.tree import ROOT, migration_head

ALEMBIC_RAN = "Context impl PostgresqlImpl"
SKIPPED = "nothing to apply"


def upgrade(url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": "s" * 40, "DATABASE_URL": url, "FLASK_APP": "board"}
    return subprocess.run([sys.executable, "-m", "board.upgrade"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def revisions(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return set(connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    finally:
        engine.dispose()


def set_revision(url: str, revision: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    finally:
        engine.dispose()


def test_a_new_database_is_migrated_then_a_second_run_changes_nothing_without_starting_the_app(postgres_database):
    first = upgrade(postgres_database)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "the database is at no revision" in first.stdout and ALEMBIC_RAN in first.stderr
    assert revisions(postgres_database) == {migration_head()}

    second = upgrade(postgres_database)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"the database is at {migration_head()}, the head of these migrations: {SKIPPED}" in second.stdout
    assert ALEMBIC_RAN not in second.stdout + second.stderr


def test_a_database_one_revision_behind_is_brought_to_head(postgres_database):
    assert upgrade(postgres_database).returncode == 0
    previous = ScriptDirectory(str(ROOT / "migrations")).get_revision(migration_head()).down_revision
    env = {**os.environ, "APP_ENV": "test", "DATABASE_URL": postgres_database, "FLASK_APP": "board"}
    subprocess.run([sys.executable, "-m", "flask", "db", "downgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=120)
    assert revisions(postgres_database) == {previous}

    result = upgrade(postgres_database)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"the database is at {previous}, these migrations end at {migration_head()}" in result.stdout
    assert f"Running upgrade {previous} -> {migration_head()}" in result.stderr
    assert revisions(postgres_database) == {migration_head()}


def test_a_database_ahead_of_these_migrations_is_left_to_flask_db_upgrade(postgres_database):
    """A rollback: a newer release migrated the database to a revision these files do not have."""
    assert upgrade(postgres_database).returncode == 0
    set_revision(postgres_database, "9999_newer")
    result = upgrade(postgres_database)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the database is at 9999_newer" in result.stdout and ALEMBIC_RAN in result.stderr
    assert "which this version's migrations do not have" in result.stderr  # migrations/env.py's answer
    assert revisions(postgres_database) == {"9999_newer"}


def test_a_database_that_does_not_answer_is_not_taken_as_at_head(postgres_url):
    unreachable = postgres_url.rsplit("@", 1)[0] + "@127.0.0.1:1/ebdb"
    result = upgrade(unreachable)
    assert "the database's revision could not be read: running flask db upgrade" in result.stdout
    assert result.returncode != 0  # and flask db upgrade, which cannot reach it either, fails the deployment


# --- reading the heads from the files, as Alembic does ---------------------------------------------------------

def revision_file(folder: Path, name: str, revision: str, down: str, head: str = "") -> None:
    """A revision file; `revision` and `down` are Python expressions, as written in it."""
    (folder / f"{name}.py").write_text(f"{head}revision = {revision}\ndown_revision = {down}\n\n\n"
                                       "def upgrade():\n    pass\n")


def alembic_heads(tree: Path) -> set[str]:
    return set(ScriptDirectory(str(tree)).get_heads())


def test_the_heads_of_this_repo_are_alembics():
    assert script_heads() == alembic_heads(ROOT / "migrations") == {migration_head()}


def test_branches_and_merges_give_alembics_heads(tmp_path):
    versions = tmp_path / "versions"
    versions.mkdir()
    revision_file(versions, "a", '"a"', "None")
    revision_file(versions, "b", '"b"', '"a"')
    revision_file(versions, "c", '"c"', '"a"')
    assert script_heads(versions) == alembic_heads(tmp_path) == {"b", "c"}
    revision_file(versions, "d", '"d"', '("b", "c")', head="from __future__ import annotations\n")
    assert script_heads(versions) == alembic_heads(tmp_path) == {"d"}
    (versions / "e.py").write_text('revision: str = "e"\ndown_revision: str | None = "d"\n')  # today's template
    assert script_heads(versions) == alembic_heads(tmp_path) == {"e"}


@pytest.mark.parametrize("revision, down", [('"x" + "y"', '"a"'), ('"x"', "PREVIOUS")])
def test_a_revision_not_written_as_a_literal_leaves_the_heads_unknown(tmp_path, revision, down):
    revision_file(tmp_path, "a", '"a"', "None")
    revision_file(tmp_path, "x", revision, down)
    assert script_heads(tmp_path) is None


def test_files_alembic_passes_over_are_passed_over(tmp_path):
    revision_file(tmp_path, "a", '"a"', "None")
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / ".#a.py").write_text("an editor's lock file")
    assert script_heads(tmp_path) == {"a"}


def test_a_database_at_both_heads_of_a_branched_history_is_left_to_flask_db_upgrade(postgres_database, tmp_path):
    """`flask db upgrade` goes to "head" and refuses a history with several: that is its answer to give."""
    revision_file(tmp_path, "a", '"a"', "None")
    revision_file(tmp_path, "b", '"b"', '"a"')
    revision_file(tmp_path, "c", '"c"', '"a"')
    engine = sa.create_engine(postgres_database)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)"))
        connection.execute(sa.text("INSERT INTO alembic_version VALUES ('b'), ('c')"))
    engine.dispose()
    environ = {"DATABASE_URL": postgres_database}
    assert at_head(environ, tmp_path) == (False, "these migrations have several heads (b, c)")
    revision_file(tmp_path, "d", '"d"', '("b", "c")')
    assert at_head(environ, tmp_path) == (False, "the database is at b, c, these migrations end at d")
