"""docs/schema-changes.md's worked example: authors.name renamed to display_name in three releases.

Each release is a commit of a copy of the tree. For each one, `flask db
check-safety` passes it, the previous release's code serves while its
migrations run (the compatibility gate, as a release runs it), and its own code
serves on its own schema. The one-step rename is refused by both.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from board.migration_safety.check import check
from deploy import gate
from deploy.errors import DeployError
from testkit.tree import ROOT, commit, git_repo, migration_head, revision

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("postgres_binaries")]
EXAMPLE = ROOT / "docs" / "examples" / "rename-column"
MODEL_BEFORE = "name: Mapped[str] = mapped_column(String(NAME_MAX))"
MODEL_AFTER = 'name: Mapped[str] = mapped_column("display_name", String(NAME_MAX))'



def add_release_revision(repo: Path, name: str) -> None:
    text = (EXAMPLE / f"{name}.py").read_text()
    if name.startswith("rename1"):
        text = re.sub(r'^down_revision = "\w+"', f'down_revision = "{migration_head()}"', text, flags=re.M)
    (repo / "migrations" / "versions" / f"{name}.py").write_text(text)


def switch_model(repo: Path, before: str, after: str) -> None:
    models = repo / "board" / "models.py"
    assert before in models.read_text()
    models.write_text(models.read_text().replace(before, after))


def unsafe_steps(repo: Path) -> list[str]:
    judged = check(ScriptDirectory(str(repo / "migrations")), migration_head())
    return [finding.key for revision_ in judged for finding in revision_.refused()] + \
        [key for revision_ in judged for key in revision_.stale_markers()]


def passes(repo: Path, serving: str, this: str) -> None:
    """The serving release's code while this tree migrates, then this release's code on its own schema."""
    gate.check_release(repo, serving, out=lambda line: None)
    gate.check_release(repo, this, out=lambda line: None, always=True)


def test_the_one_step_rename_is_refused_by_the_check_and_by_the_gate(tmp_path):
    repo = git_repo(tmp_path / "board")
    serving = commit(repo, "serving")
    revision(repo, "rename", migration_head(), "op.alter_column('authors', 'name', new_column_name='display_name')")
    switch_model(repo, MODEL_BEFORE, MODEL_AFTER)
    assert unsafe_steps(repo) == ["rename_column authors.name"]
    with pytest.raises(DeployError, match=r'refused by the gate: .*column authors\.name does not exist'):
        gate.check_release(repo, serving, out=lambda line: None)


def test_the_three_release_rename_passes_the_check_and_the_gate_at_every_step(tmp_path):
    repo = git_repo(tmp_path / "board")
    release0 = commit(repo, "before the rename")

    add_release_revision(repo, "rename1_expand")
    assert unsafe_steps(repo) == []
    release1 = commit(repo, "release 1: expand and dual-write")
    passes(repo, release0, release1)

    add_release_revision(repo, "rename2_switch")
    switch_model(repo, MODEL_BEFORE, MODEL_AFTER)
    assert unsafe_steps(repo) == []
    release2 = commit(repo, "release 2: backfill and switch reads")
    passes(repo, release1, release2)

    add_release_revision(repo, "rename3_contract")
    assert unsafe_steps(repo) == []
    release3 = commit(repo, "release 3: contract")
    passes(repo, release2, release3)
    gate.check_rollback(repo, release3, release2, out=lambda line: None)  # going back one release is safe too


def test_the_contract_step_without_its_marker_is_refused(tmp_path):
    repo = git_repo(tmp_path / "board")
    for name in ("rename1_expand", "rename2_switch"):
        add_release_revision(repo, name)
    shutil.copy(EXAMPLE / "rename3_contract.py", repo / "migrations" / "versions")
    contract = repo / "migrations" / "versions" / "rename3_contract.py"
    contract.write_text(re.sub(r"safe_because = \{.*?\n\}\n", "", contract.read_text(), flags=re.S))
    assert unsafe_steps(repo) == ["drop_column authors.name"]
