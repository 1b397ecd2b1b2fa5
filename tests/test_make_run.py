"""`make run` on a tree with no database yet: upgrades the embedded SQLite file and serves."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest
import requests

from testkit.ports import free_port
from testkit.tree import ROOT, copy_tree

pytestmark = pytest.mark.slow


def test_make_run_creates_the_database_and_serves_the_board(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    tree = copy_tree(tmp_path / "board")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("RDS_", "DATABASE_URL"))}
    log_path = tmp_path / "make-run.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(["make", "run", f"VENV={ROOT / '.venv'}", f"RUN_PORT={port}"], cwd=tree,
                                   env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, log_path.read_text()
        assert (tree / "instance" / "board.sqlite").is_file()
        home = requests.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert home.status_code == 200, home.text
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
