"""A copy of the project as a clone would have it, for tests that edit files or run make."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def copy_tree(destination: Path) -> Path:
    """The project's files (tracked or new, not ignored): no .venv, instance folder or caches."""
    for name in tracked_files():
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        # copy2 keeps mtimes, so make sees the venv's install stamps as current.
        shutil.copy2(ROOT / name, target)
    return destination


def migration_head() -> str:
    """The newest revision in migrations/, which a fresh `flask db upgrade` reaches."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(ROOT / "migrations")).get_current_head()


def broken_migration(revision: str = "9999_broken") -> str:
    """A revision on top of the head whose upgrade fails in the database, as a bad migration does."""
    return f'''revision = "{revision}"
down_revision = "{migration_head()}"
from alembic import op


def upgrade():
    op.execute("ALTER TABLE no_such_table ADD COLUMN nothing integer")


def downgrade():
    pass
'''
