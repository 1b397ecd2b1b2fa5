"""`docker compose up` from a clean project: database, migrations once, the app on the host port."""

from __future__ import annotations

import time

import pytest

from testkit.compose import docker, register_and_post

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def schema_in_database(project) -> str:
    return project.compose("exec", "-T", "db", "psql", "-U", "board", "-d", "board", "-tAc",
                           "SELECT version_num FROM alembic_version").stdout.strip()


def test_compose_up_serves_the_board_on_postgresql_and_keeps_posts_across_restarts(project):
    started = time.monotonic()
    project.up()
    print(f"\ncompose up --wait (build included): {time.monotonic() - started:.1f} s")
    assert project.get("/readyz").json() == {"status": "ok"}
    assert project.exit_code("migrate") == 0
    head = project.get("/version").json()["schema"]
    assert head and schema_in_database(project) == head

    register_and_post(project.base, "Posted through compose")
    assert "Posted through compose" in project.get("/").text

    project.down(volumes=False)
    project.up()
    assert "Posted through compose" in project.get("/").text  # the named volume kept it

    project.down(volumes=True)
    volumes = docker("volume", "ls", "--quiet", "--filter", f"label=com.docker.compose.project={project.name}")
    assert volumes.stdout.strip() == ""


def test_migrate_again_finds_nothing_to_do(project):
    project.up()
    assert "Running upgrade" in project.compose("logs", "--no-color", "migrate").stdout
    again = project.compose("run", "--rm", "--no-deps", "migrate")
    assert again.returncode == 0
    assert "Running upgrade" not in again.stdout + again.stderr
