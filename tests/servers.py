"""Running the real gunicorn with the project's gunicorn.conf.py, for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.pgcluster import free_port


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not up yet, or a first request slowed by a busy machine
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@contextmanager
def gunicorn(app_dir: Path, log_path: Path | None = None, **environ: str):
    """gunicorn serving `app_dir` (a tree with board/ and gunicorn.conf.py) on a free port: yields (url, process).

    Its output goes to `log_path` (default: gunicorn.log in `app_dir`); an empty variable is left unset.
    """
    port = free_port()
    env = {"PATH": os.environ["PATH"], "APP_ENV": "development", "PORT": str(port), "WEB_CONCURRENCY": "1",
           "DATABASE_URL": f"sqlite:///{app_dir / 'board.sqlite'}", **environ}
    env = {key: value for key, value in env.items() if value != ""}
    log = open(log_path or app_dir / "gunicorn.log", "w+")  # noqa: SIM115 (read back on failure)
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py",
                                "board:create_app()"], cwd=app_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(base + "/healthz", timeout=5).ok, 60, "gunicorn to serve /healthz")
        yield base, process
    except AssertionError:
        log.seek(0)
        print(log.read())
        raise
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
