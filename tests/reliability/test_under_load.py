"""gunicorn + PostgreSQL under load, through a database restart, and through a graceful stop."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import requests

from board.config import usable_cpus
from testkit import pgcluster
from testkit.servers import TrafficDuringStop, wait_until
from testkit.tree import ROOT
from tests.reliability.conftest import flask, production_server

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


def test_20000_requests_at_concurrency_64_without_an_error_or_a_worker_timeout(seeded_database, tmp_path):
    log = tmp_path / "gunicorn.log"
    with production_server(seeded_database, log) as (base, _):
        result = subprocess.run([sys.executable, "-m", "bench.load", base + "/", "--requests", "20000",
                                 "--connections", "64"], cwd=ROOT, capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout)
    print(f"\n{figures['requests']} requests, {figures['rps']} req/s, p99 {figures['p99_ms']} ms")
    assert figures["requests"] == 20000
    assert figures["errors"] == 0, figures["error_samples"]
    assert "WORKER TIMEOUT" not in log.read_text()


def test_a_database_restart_degrades_cleanly_and_heals_without_restarting_gunicorn(tmp_path):
    missing = pgcluster.binaries_missing()
    if missing:
        pytest.skip(missing)
    cluster = pgcluster.create_cluster()  # its own server, so stopping it disturbs no other test
    try:
        flask(cluster.url, "db", "upgrade")
        flask(cluster.url, "seed", "--authors", "2", "--posts", "30")
        with production_server(cluster.url, tmp_path / "gunicorn.log", DB_CONNECT_TIMEOUT="1") as (base, process):
            workers = usable_cpus()  # WEB_CONCURRENCY is unset
            wait_until(lambda: len(worker_pids(process.pid)) == workers, 30, "every worker to start")
            pids_before = worker_pids(process.pid)
            assert requests.get(base + "/", timeout=5).status_code == 200
            cluster.stop()
            down_page = requests.get(base + "/", timeout=10)
            assert down_page.status_code == 503
            assert "database is not reachable" in down_page.text and "Traceback" not in down_page.text
            assert requests.get(base + "/readyz", timeout=10).status_code == 503
            assert requests.get(base + "/api/posts", timeout=10).json()["error"] == "Service Unavailable"
            assert requests.get(base + "/healthz", timeout=5).status_code == 200
            cluster.start()
            back = time.monotonic()
            wait_until(lambda: all(requests.get(base + path, timeout=5).status_code == 200
                                   for path in ("/", "/readyz", "/api/posts")), 5, "every page to be 200 again")
            print(f"\nhealed {time.monotonic() - back:.2f} s after the database came back")
            assert worker_pids(process.pid) == pids_before  # same workers: healed, not restarted
    finally:
        cluster.remove()


def worker_pids(master: int) -> set[str]:
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True).stdout
    return set(children.split())


def test_sigterm_under_load_answers_every_accepted_request_and_exits_0(seeded_database, tmp_path):
    with production_server(seeded_database, tmp_path / "gunicorn.log") as (base, process), \
            TrafficDuringStop(base, "/", visitors=6) as traffic:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
    assert code == 0
    assert traffic.uploads == [400, 400, 400]  # in flight at SIGTERM, answered in full
    assert traffic.problems() == []
