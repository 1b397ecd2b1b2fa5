"""`docker compose watch`, for real: static files and templates are served as saved by the same workers, code by new
workers; dependencies and migrations rebuild."""

from __future__ import annotations

import time

import pytest

from testkit.compose import wait_for
from testkit.tree import migration_head

pytestmark = [pytest.mark.docker, pytest.mark.slow]

HEAD = migration_head()  # the probe migration below follows it
MIGRATION = f'''"""watch probe

Revision ID: 0002_watch_probe
Revises: {HEAD}
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_watch_probe"
down_revision = "{HEAD}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("watch_probe", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("watch_probe")
'''


def edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def timed(what: str, predicate, timeout: float) -> float:
    started = time.monotonic()
    wait_for(predicate, timeout, what, interval=0.05)
    took = time.monotonic() - started
    print(f"\nwatch: {what}: {took:.2f} s")
    return took


def workers(project) -> set[int]:
    """gunicorn's workers in the webapp container (gunicorn is PID 1 there), once each runs its reloader."""
    script = ('for p in $(cat /proc/1/task/1/children); do [ "$(ls /proc/$p/task | wc -l)" -gt 1 ] '
              '&& echo "$p"; done')
    def booted():
        listed = project.compose("exec", "-T", "webapp", "sh", "-c", script, check=False).stdout.split()
        children = project.compose("exec", "-T", "webapp", "cat", "/proc/1/task/1/children", check=False)
        return set(map(int, listed)) if listed and len(listed) == len(children.stdout.split()) else None

    pids = wait_for(booted, 30, "booted workers")
    time.sleep(0.5)  # a worker's reloader thread adds its watches as it starts
    return pids


def test_watch_syncs_code_and_templates_and_rebuilds_for_dependencies_and_migrations(project, tmp_path):
    watch = project.popen("watch", log=tmp_path / "watch.log")  # builds, starts the services, then watches
    try:
        wait_for(lambda: "Watch enabled" in (tmp_path / "watch.log").read_text(), 300, "watch to start")
        wait_for(lambda: project.get("/readyz").status_code == 200, 60, "the app to be ready")
        first_start = project.started_at("webapp")
        assert first_start
        started_workers = workers(project)

        # (a) A static file: synced and served from disk, no worker restarts.
        edit(project.dir / "static" / "style.css", "box-sizing", "--watched: 1; box-sizing")
        timed("edited static file served", lambda: "--watched: 1" in project.get("/static/style.css").text, 30)
        # (b) A template: synced, and Flask reads it again in the same workers.
        edit(project.dir / "board" / "templates" / "about.html", "About board", "About the watched board")
        timed("edited template served", lambda: "About the watched board" in project.get("/about").text, 30)
        assert workers(project) == started_workers, "a static or template edit restarted gunicorn's workers"
        # (c) Python code: synced, gunicorn replaces every worker, the container keeps running.
        edit(project.dir / "board" / "health.py", 'jsonify(status="ok")', 'jsonify(status="edited")')
        timed("edited Python served", lambda: project.get("/healthz").json()["status"] == "edited", 30)
        assert not workers(project) & started_workers, "old workers still serve after a .py edit"
        assert project.started_at("webapp") == first_start

        # (d) requirements.txt: the image is rebuilt and the service recreated.
        with open(project.dir / "requirements.txt", "a") as requirements:
            requirements.write("# touched by the watch test\n")
        timed("rebuild after requirements.txt", lambda: project.started_at("webapp") not in ("", first_start)
              and project.get("/readyz").status_code == 200, 240)

        # (e) A new migration: rebuilt, and the migrate service applies it.
        (project.dir / "migrations" / "versions" / "0002_watch_probe.py").write_text(MIGRATION)
        timed("new migration applied", lambda: project.compose(
            "exec", "-T", "db", "psql", "-U", "board", "-d", "board", "-tAc",
            "SELECT version_num FROM alembic_version", check=False).stdout.strip() == "0002_watch_probe", 240)
        timed("app serves the new schema head",
              lambda: project.get("/version").json()["schema"] == "0002_watch_probe", 120)
    except AssertionError:
        print((tmp_path / "watch.log").read_text()[-4000:])
        raise
    finally:
        watch.terminate()
        try:
            watch.wait(timeout=20)
        except Exception:
            watch.kill()
