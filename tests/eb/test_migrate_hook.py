"""The predeploy hook, executed for real on a simulated EB host.

The simulation: the staging directory (this repo) whose image the platform has
just built, a PostgreSQL container standing in for RDS, and the local instance's
get-config answering with the environment properties, the platform paths and the
option settings.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid

import pytest

from deploy.namespaces import ENVIRONMENT_SECRETS
from testkit.compose import docker, wait_for
from testkit.tree import ROOT, broken_migration, migration_head

pytestmark = [pytest.mark.docker, pytest.mark.slow]

HOOK = ROOT / ".platform" / "hooks" / "predeploy" / "01_migrate.py"
GET_CONFIG = ROOT / "localeb" / "instance-image" / "get-config"
PASSWORD = "p@ss:w/rd#1"  # RDS passwords carry URL metacharacters
# A multi-line value: written to a NAME=value env-file, its second line would become a variable of its own.
MULTILINE_KEY = "s" * 40 + "\nRDS_HOSTNAME=nowhere.invalid"
BROKEN_MIGRATION = broken_migration("0002_broken")


@pytest.fixture(scope="module")
def built_image(docker_engine):
    """What the platform built from the staging directory (under a tag of our own: the hook must not need one)."""
    tag = f"board-staged-{uuid.uuid4().hex[:8]}"
    docker("build", "--quiet", "--tag", tag, str(ROOT))
    yield tag, docker("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()
    docker("rmi", "--force", tag, check=False)


@pytest.fixture
def rds(docker_engine):
    """A PostgreSQL container on the default bridge, as RDS is reachable from the instance's containers."""
    name = "board-rds-" + uuid.uuid4().hex[:8]
    docker("run", "--detach", "--name", name, "--env", "POSTGRES_USER=board", "--env", "POSTGRES_PASSWORD",
           "--env", "POSTGRES_DB=ebdb", "postgres:16", env={**os.environ, "POSTGRES_PASSWORD": PASSWORD})
    try:
        wait_for(lambda: docker("exec", name, "pg_isready", "-U", "board", "-d", "ebdb", "-h", "127.0.0.1",
                                check=False).returncode == 0, 60, "PostgreSQL to accept connections", interval=0.5)
        address = docker("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name)
        yield name, address.stdout.strip()
    finally:
        docker("rm", "--force", "--volumes", name, check=False)


@pytest.fixture
def host(tmp_path, rds):
    """The EB host's side: get-config and the log path; returns a runner for the hook.

    RDS_PASSWORD is an environmentsecrets name: it reaches the hook only as an environment
    variable (as EB documents secrets), not through `get-config environment`."""
    _, address = rds
    answers = {
        "environment": {"RDS_HOSTNAME": address, "RDS_PORT": "5432", "RDS_DB_NAME": "ebdb", "RDS_USERNAME": "board",
                        "APP_ENV": "production", "SECRET_KEY": MULTILINE_KEY},
        "platformconfig": {"AppStagingDir": str(ROOT)},
        "optionsettings": {ENVIRONMENT_SECRETS: {"RDS_PASSWORD": "arn:aws:secretsmanager:us-east-1:1:secret:db"}},
    }
    answered = tmp_path / "get-config-answers"
    answered.mkdir()
    for kind, data in answers.items():
        (answered / f"{kind}.json").write_text(json.dumps(data))
    # The local instance's get-config, which answers the documented forms only.
    env = {**os.environ, "BOARD_GET_CONFIG": str(GET_CONFIG), "LOCALEB_CONFIG_DIR": str(answered),
           "RDS_PASSWORD": PASSWORD}
    env.pop("BOARD_IMAGE", None)

    def start_hook(log_name: str = "board-migrate.log", **overrides: str) -> subprocess.Popen:
        return subprocess.Popen([str(HOOK)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**env, "BOARD_MIGRATE_LOG": str(tmp_path / log_name), **overrides})

    def run_hook(**overrides: str) -> subprocess.CompletedProcess:
        process = start_hook(**overrides)
        stdout, stderr = process.communicate(timeout=300)
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    run_hook.start, run_hook.log = start_hook, tmp_path / "board-migrate.log"
    return run_hook


def schema(rds) -> str:
    name, _ = rds
    result = docker("exec", name, "psql", "-U", "board", "-d", "ebdb", "-tAc",
                    "SELECT version_num FROM alembic_version", check=False)
    return result.stdout.strip() if result.returncode == 0 else "(no schema)"


def test_the_hook_migrates_in_the_image_the_platform_built_with_secrets_and_newlines_intact(built_image, rds, host):
    result = host()
    assert result.returncode == 0, result.stdout + result.stderr
    # RDS_PASSWORD came from the hook's environment only; SECRET_KEY's second line stayed inside its value.
    assert schema(rds) == migration_head()
    log = host.log.read_text()
    assert f"migrating with {built_image[1]}" in log  # found without relying on any tag
    assert "schema is at the head revision" in log

    # The next instance of the deployment finds the schema at head without starting the app.
    again = host()
    assert again.returncode == 0, again.stdout + again.stderr
    rerun = host.log.read_text()[len(log):]
    assert f"the database is at {migration_head()}, the head of these migrations: nothing to apply" in rerun
    assert "Context impl" not in rerun


def test_instances_migrating_at_once_apply_each_revision_exactly_once(built_image, rds, host):
    runs = [host.start(log_name=f"instance-{number}.log") for number in (1, 2)]
    for run in runs:
        stdout, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stdout + stderr
    logs = "".join((host.log.parent / f"instance-{number}.log").read_text() for number in (1, 2))
    applied = re.findall(r"Running upgrade (\S*) ?-> ([^,\s]+)", logs)
    assert sorted(target for _, target in applied) == sorted(set(target for _, target in applied))
    assert migration_head() in {target for _, target in applied}
    assert schema(rds) == migration_head()


def test_a_failing_migration_fails_the_hook_with_the_error_in_its_log(built_image, rds, host, tmp_path):
    context = tmp_path / "broken"
    context.mkdir()
    (context / "0002_broken.py").write_text(BROKEN_MIGRATION)
    (context / "Dockerfile").write_text(f"FROM {built_image[0]}\nCOPY 0002_broken.py /app/migrations/versions/\n")
    broken = "board-broken-" + uuid.uuid4().hex[:8]
    docker("build", "--quiet", "--tag", broken, str(context))
    try:
        result = host(BOARD_IMAGE=broken)
    finally:
        docker("rmi", "--force", broken, check=False)
    assert result.returncode != 0
    log = host.log.read_text()
    assert "no_such_table" in log and "the migration failed" in log
    assert "no_such_table" in result.stderr  # the tail reaches the deployment's own log too
    assert schema(rds) == "(no schema)"  # one transaction: nothing half-applied


def test_an_unbuildable_staging_directory_fails_clearly(docker_engine, host, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "get-config-answers" / "platformconfig.json").write_text(json.dumps({"AppStagingDir": str(empty)}))
    result = host()
    assert result.returncode == 1
    assert f"could not find the image built from {empty}" in result.stdout


def test_on_the_python_platform_the_hook_migrates_from_the_platforms_venv_not_docker(rds, host, tmp_path):
    """The Python platform's instance: a virtualenv with requirements.txt installed, no image to run."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "docker").write_text("#!/bin/sh\necho 'docker must not be used here' >&2\nexit 97\n")
    (fake_bin / "docker").chmod(0o755)
    result = host(BOARD_VENV=sys.prefix, PATH=f"{fake_bin}:{os.environ['PATH']}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert schema(rds) == migration_head()
    log = host.log.read_text()
    assert f"Python platform: migrating from {sys.prefix} in {ROOT}" in log
    assert "docker must not be used" not in log
