"""The production stack for reliability tests: gunicorn with gunicorn.conf.py on a real PostgreSQL database."""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager

import pytest

from testkit.servers import gunicorn
from testkit.tree import ROOT


def flask(url: str, *args: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "APP_ENV": "production", "SECRET_KEY": "reliability", "DATABASE_URL": url,
           "FLASK_APP": "board"}
    subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, check=True, capture_output=True)


@contextmanager
def production_server(url: str, log_path, **environ: str):
    """gunicorn in production mode (workers from the CPU count) on the work tree; yields (url, process)."""
    settings = {"APP_ENV": "production", "SECRET_KEY": "reliability", "DATABASE_URL": url, "WEB_CONCURRENCY": "",
                **environ}
    with gunicorn(ROOT, log_path=log_path, **settings) as (base, process):
        yield base, process


@pytest.fixture
def seeded_database(postgres_database):
    flask(postgres_database, "db", "upgrade")
    flask(postgres_database, "seed", "--authors", "20", "--posts", "500")
    return postgres_database
