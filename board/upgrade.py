"""`flask db upgrade`, unless the database is already at the head of these migrations.

The predeploy hook runs this on every instance of a deployment (.platform/hooks/predeploy/01_migrate.py):
`python -m board.upgrade`. The first instance applies the new revisions; on the others, and on every
instance when a release changes no migration, the schema is already at head, and `flask db upgrade` would
load the whole app (a second here, more on a small instance) to change nothing. So this asks first, with
the database driver alone: the revisions alembic_version holds against the heads of migrations/versions,
read from the files as Alembic reads them (their `revision` and `down_revision`: a head is a revision no
other one names as its down revision).

Only an exact match skips. Anything else runs `flask db upgrade`, which decides as it always has (under its
lock, migrations/env.py): a revision to apply, a database ahead of these files (a rollback), a file whose
revisions are not plain literals, a history with several heads, a database other than PostgreSQL, one that
does not answer.
"""

from __future__ import annotations

import ast
import os
import sys
from contextlib import closing
from pathlib import Path

from . import config

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = ROOT / "migrations" / "versions"
VERSION_TABLE = "alembic_version"  # Alembic's default; migrations/env.py keeps it
UPGRADE = [sys.executable, "-m", "flask", "db", "upgrade"]
SAY = "board upgrade:"


def script_heads(folder: Path = VERSIONS) -> set[str] | None:
    """The head revisions of the revision files in `folder`; None when one of them does not name its
    `revision` and `down_revision` as literals (Alembic would import it to know: not done here)."""
    revisions, followed = set(), set()
    for path in folder.glob("*.py"):
        if path.name.startswith((".#", "__init__")):  # the files Alembic's loader passes over
            continue
        found = literals(path, ("revision", "down_revision"))
        if found is None:
            return None
        revision, down = found
        downs = (down,) if down is None or isinstance(down, str) else down
        if not isinstance(revision, str) or not isinstance(downs, tuple | list) or \
                not all(name is None or isinstance(name, str) for name in downs):
            return None
        revisions.add(revision)
        followed.update(name for name in downs if name)
    return (revisions - followed) or None


def literals(path: Path, names: tuple[str, ...]) -> tuple | None:
    """The literal values the module at `path` assigns to `names` at its top level; None if one is missing."""
    try:
        tree = ast.parse(path.read_bytes(), str(path))
    except (OSError, SyntaxError, ValueError):
        return None
    values = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) and node.value is not None else []
        for target in targets:
            if isinstance(target, ast.Name) and target.id in names:
                try:
                    values[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    return None
    return tuple(values[name] for name in names) if all(name in values for name in names) else None


def database_heads(url: str, timeout: int) -> set[str] | None:
    """The revisions the database at `url` is at (none before its first migration); None when that cannot be
    read (not PostgreSQL, no answer)."""
    driver = "postgresql+psycopg2://"
    if not url.startswith(driver):
        return None
    import psycopg2.errors  # here: only a deployment's check needs the driver without SQLAlchemy

    try:
        # SQLAlchemy's URL, without the driver, is libpq's: credentials stay percent-escaped, options pass on.
        with closing(psycopg2.connect("postgresql://" + url[len(driver):], connect_timeout=timeout)) as connection, \
                connection.cursor() as cursor:
            cursor.execute(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608 (a constant)
            return {row[0] for row in cursor.fetchall()}
    except psycopg2.errors.UndefinedTable:
        return set()  # a database no migration has run on
    except psycopg2.Error:
        return None


def at_head(environ=os.environ, versions: Path = VERSIONS) -> tuple[bool, str]:
    """Whether the database is at the head of the migrations in `versions`, and why this says so (for the log)."""
    heads = script_heads(versions)
    if heads is None:
        return False, "the heads of migrations/versions are not plain to read"
    if len(heads) > 1:  # `flask db upgrade` goes to "head", and refuses a history with several
        return False, f"these migrations have several heads ({', '.join(sorted(heads))})"
    try:
        url = config.database_url(environ, str(ROOT / "instance"))
        timeout = config.DB_CONNECT_TIMEOUT.read(environ)
    except config.ConfigError:
        return False, "the configuration is not complete"  # flask db upgrade says what is wrong
    current = database_heads(url, timeout)
    wanted = ", ".join(sorted(heads))
    if current is None:
        return False, "the database's revision could not be read"
    if current != heads:
        found = ", ".join(sorted(current)) or "no revision"
        return False, f"the database is at {found}, these migrations end at {wanted}"
    return True, f"the database is at {wanted}, the head of these migrations: nothing to apply"


def main() -> int:
    done, why = at_head()
    print(f"{SAY} {why}" + ("" if done else ": running flask db upgrade"), flush=True)
    if done:
        return 0
    os.execv(UPGRADE[0], UPGRADE)  # noqa: S606 (a fixed command: this interpreter's flask)
    return 1  # not reached: execv replaces this process


if __name__ == "__main__":
    sys.exit(main())
