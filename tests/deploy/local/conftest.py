"""Local EB environments for the tests: bundles from edited copies of this repo, one shared fleet a module."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from deploy.bundle import write_bundle
from deploy.local import Fleet
from testkit.ports import free_port
from testkit.tree import ROOT, copy_tree, migration_head

BROKEN_MIGRATION = f'''revision = "9999_broken"
down_revision = "{migration_head()}"
from alembic import op


def upgrade():
    op.execute("ALTER TABLE no_such_table ADD COLUMN nothing integer")


def downgrade():
    pass
'''


def version(url: str) -> str:
    return requests.get(url + "/version", timeout=5).json()["version"]


@pytest.fixture(scope="module")
def make_bundle(tmp_path_factory) -> Callable[..., Path]:
    """A bundle of this repo, after `edit(tree)` changed a copy of it."""
    def make(name: str, edit: Callable[[Path], None] | None = None) -> Path:
        folder = tmp_path_factory.mktemp(name)
        tree = copy_tree(folder / "tree") if edit else ROOT
        if edit:
            edit(tree)
        return write_bundle(tree, folder / f"{name}.zip")
    return make


@pytest.fixture(scope="module")
def fleet(docker_engine, make_bundle):
    """One instance serving this repo as version v1 (with its own PostgreSQL), for the module's tests."""
    with Fleet(instances=1, port=free_port(), echo=lambda line: None, health_wait=60) as started:
        result = started.deploy(make_bundle("v1"), label="v1")
        assert result.ok, [outcome.log for outcome in result.outcomes]
        yield started
