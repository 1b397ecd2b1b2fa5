"""The instance's health-check script (localeb/instance-image/health-check), run on its own against a small
server: it waits for the expected answer, and reports what answered when none came."""

from __future__ import annotations

import subprocess
import sys
import threading

from testkit.ports import free_port
from testkit.tree import ROOT
from tests.localeb.test_alb import Backend

HEALTH_CHECK = ROOT / "localeb" / "instance-image" / "health-check"


def check(base: str, expected: str = "200", wait: float = 5) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(HEALTH_CHECK), "/healthz", expected, str(wait)], capture_output=True,
                          text=True, env={"LOCALEB_PROXY_URL": base}, timeout=wait + 30)


def test_it_waits_until_the_path_answers_the_expected_code():
    backend = Backend("app", healthy=False)
    threading.Timer(0.5, lambda: setattr(backend, "healthy", True)).start()
    passed = check(f"http://{backend.address}")
    assert (passed.returncode, passed.stdout) == (0, "200\n")


def test_a_wrong_answer_is_reported_after_the_wait():
    failed = check(f"http://{Backend('app', healthy=False).address}", wait=0.5)
    assert (failed.returncode, failed.stdout) == (1, "503\n")


def test_no_answer_at_all_is_zero():
    silent = check(f"http://127.0.0.1:{free_port()}", wait=0.5)
    assert (silent.returncode, silent.stdout) == (1, "0\n")
