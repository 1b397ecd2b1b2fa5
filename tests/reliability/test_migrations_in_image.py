"""Three containers of the image run `flask db upgrade` at once on an empty PostgreSQL: all exit 0, migrated once."""

from __future__ import annotations

import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from testkit.compose import docker, wait_for
from testkit.tree import ROOT, migration_head

pytestmark = [pytest.mark.reliability, pytest.mark.docker, pytest.mark.slow]


def test_three_concurrent_upgrades_from_the_image_serialize(docker_engine):
    tag, db = f"board-test:{uuid.uuid4().hex[:8]}", "board-db-" + uuid.uuid4().hex[:8]
    docker("build", "--quiet", "--tag", tag, str(ROOT))
    docker("run", "--detach", "--name", db, "--env", "POSTGRES_USER=board", "--env", "POSTGRES_PASSWORD=pw",
           "--env", "POSTGRES_DB=ebdb", "postgres:16")
    try:
        wait_for(lambda: docker("exec", db, "pg_isready", "-U", "board", "-d", "ebdb", check=False).returncode == 0,
                 60, "PostgreSQL", interval=0.5)
        address = docker("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                         db).stdout.strip()

        def upgrade(_) -> subprocess.CompletedProcess:
            return docker("run", "--rm", "--env", f"RDS_HOSTNAME={address}", "--env", "RDS_USERNAME=board",
                          "--env", "RDS_PASSWORD=pw", "--env", "SECRET_KEY=x", tag, "flask", "db", "upgrade",
                          check=False, timeout=180)

        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(upgrade, range(3)))
        assert [r.returncode for r in results] == [0, 0, 0], [r.stderr[-500:] for r in results]
        applied = sum("Running upgrade" in r.stdout + r.stderr for r in results)
        assert applied == 1  # one applied the revisions; the others waited on the lock and found nothing to do
        version = docker("exec", db, "psql", "-U", "board", "-d", "ebdb", "-tAc",
                         "SELECT version_num FROM alembic_version").stdout.strip()
        assert version == migration_head()
    finally:
        docker("rm", "--force", "--volumes", db, check=False)
        docker("rmi", "--force", tag, check=False)
