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


def git(repo: Path, *args: str) -> str:
    """git in `repo` as a fixed author; its output, stripped."""
    return subprocess.run(["git", "-c", "user.name=Board Tests", "-c", "user.email=tests@example.com", *args],
                          cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def git_repo(destination: Path) -> Path:
    """A copy of the tree in a new git repository of its own (no commits yet): labels name its commits."""
    copy_tree(destination)
    git(destination, "init", "-q")
    return destination


def commit(repo: Path, message: str) -> str:
    """Everything in `repo`, committed; the commit's label (its 12-character short SHA, as the deploy tool's)."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "--short=12", "HEAD")


def revision(repo: Path, name: str, down: str, upgrade: str, header: str = "") -> Path:
    """A migration `name` on `down` whose upgrade() is the one line `upgrade` (`header` after the imports)."""
    path = repo / "migrations" / "versions" / f"{name}.py"
    path.write_text(f'revision = "{name}"\ndown_revision = "{down}"\nimport sqlalchemy as sa\nfrom alembic import op\n'
                    f"{header}\n\n\ndef upgrade():\n    {upgrade}\n\n\ndef downgrade():\n    pass\n")
    return path
