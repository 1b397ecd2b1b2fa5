"""The predeploy hook, executed for real on a simulated EB host.

The simulation: the image built from the Dockerfile and tagged as the platform
tags a staged build, a PostgreSQL container standing in for RDS, a fake
get-config printing the environment properties, and the leader marker.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from testkit.compose import docker, wait_for
from testkit.tree import ROOT, migration_head

pytestmark = [pytest.mark.docker, pytest.mark.slow]

HOOK = ROOT / ".platform" / "hooks" / "predeploy" / "01_migrate.sh"
STAGING_IMAGE = "aws_beanstalk/staging-app"
PASSWORD = "p@ss:w/rd#1"  # noqa: S105 (RDS passwords carry URL metacharacters)
BROKEN_MIGRATION = f'''revision = "0002_broken"
down_revision = "{migration_head()}"
from alembic import op


def upgrade():
    op.execute("ALTER TABLE no_such_table ADD COLUMN nothing integer")


def downgrade():
    pass
'''


@pytest.fixture(scope="module")
def staged_image(docker_engine):
    docker("build", "--quiet", "--tag", STAGING_IMAGE, str(ROOT))
    yield STAGING_IMAGE
    docker("rmi", "--force", STAGING_IMAGE, check=False)


@pytest.fixture
def rds(docker_engine):
    """A PostgreSQL container on the default bridge, as RDS is reachable from the instance's containers."""
    name = "board-rds-" + uuid.uuid4().hex[:8]
    docker("run", "--detach", "--name", name, "--env", "POSTGRES_USER=board", "--env", f"POSTGRES_PASSWORD={PASSWORD}",
           "--env", "POSTGRES_DB=ebdb", "postgres:16")
    try:
        wait_for(lambda: docker("exec", name, "pg_isready", "-U", "board", "-d", "ebdb", check=False).returncode == 0,
                 60, "PostgreSQL to accept connections", interval=0.5)
        address = docker("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name)
        yield name, address.stdout.strip()
    finally:
        docker("rm", "--force", "--volumes", name, check=False)


@pytest.fixture
def host(tmp_path, rds):
    """The EB host's side: get-config, the marker and log paths; returns a runner for the hook."""
    _, address = rds
    properties = {"RDS_HOSTNAME": address, "RDS_PORT": "5432", "RDS_DB_NAME": "ebdb", "RDS_USERNAME": "board",
                  "RDS_PASSWORD": PASSWORD, "APP_ENV": "production", "SECRET_KEY": "s" * 40}
    get_config = tmp_path / "get-config"
    script = f"#!/bin/sh\n[ \"$1\" = environment ] || exit 1\ncat <<'JSON'\n{json.dumps(properties)}\nJSON\n"
    get_config.write_text(script)
    get_config.chmod(0o755)
    marker, log = tmp_path / "leader", tmp_path / "board-migrate.log"
    env = {**os.environ, "BOARD_GET_CONFIG": str(get_config), "BOARD_LEADER_MARKER": str(marker),
           "BOARD_MIGRATE_LOG": str(log)}

    def run_hook(leader: bool, **overrides: str) -> subprocess.CompletedProcess:
        if leader:
            marker.touch()
        return subprocess.run(["bash", str(HOOK)], env={**env, **overrides}, capture_output=True, text=True,
                              timeout=300)

    run_hook.marker, run_hook.log = marker, log
    return run_hook


def schema(rds) -> str:
    name, _ = rds
    result = docker("exec", name, "psql", "-U", "board", "-d", "ebdb", "-tAc",
                    "SELECT version_num FROM alembic_version", check=False)
    return result.stdout.strip() if result.returncode == 0 else "(no schema)"


def test_the_leader_migrates_to_head_and_a_second_run_is_harmless(staged_image, rds, host):
    first = host(leader=True)
    assert first.returncode == 0, first.stdout + first.stderr
    assert schema(rds) == migration_head()
    assert not host.marker.exists()  # the mark is spent with this deployment
    assert "schema is at the head revision" in host.log.read_text()
    again = host(leader=True)
    assert again.returncode == 0 and schema(rds) == migration_head()


def test_without_the_leader_marker_the_hook_does_nothing(staged_image, rds, host):
    result = host(leader=False)
    assert result.returncode == 0
    assert "not the leader instance" in result.stdout
    assert schema(rds) == "(no schema)"


def test_a_failing_migration_fails_the_hook_with_the_error_in_its_log(staged_image, rds, host, tmp_path):
    context = tmp_path / "broken"
    context.mkdir()
    (context / "0002_broken.py").write_text(BROKEN_MIGRATION)
    (context / "Dockerfile").write_text(f"FROM {staged_image}\nCOPY 0002_broken.py /app/migrations/versions/\n")
    broken = "board-broken-" + uuid.uuid4().hex[:8]
    docker("build", "--quiet", "--tag", broken, str(context))
    try:
        result = host(leader=True, BOARD_STAGING_IMAGE=broken)
    finally:
        docker("rmi", "--force", broken, check=False)
    assert result.returncode != 0
    log = host.log.read_text()
    assert "no_such_table" in log and "flask db upgrade failed" in log
    assert "no_such_table" in result.stderr  # the tail reaches the deployment's own log too
    assert schema(rds) == "(no schema)"  # one transaction: nothing half-applied


def test_a_missing_staged_image_fails_clearly(docker_engine, host):
    result = host(leader=True, BOARD_STAGING_IMAGE="board-missing:none")
    assert result.returncode == 1
    assert "no image named board-missing:none" in result.stdout
