"""bench/cpu.py: the CPU columns of `make bench` count a server's workers, live or ended."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench import cpu

pytestmark = pytest.mark.skipif(not cpu.available(), reason="no /proc: CPU time is read from Linux's /proc")

BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
# A parent (like gunicorn's master) whose child burns 0.3 s of CPU, then waits; the parent reaps it on cue.
PARENT = f"""
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", {BURN!r} + "print('burnt', flush=True); input()"],
                         stdin=subprocess.PIPE)
sys.stdin.readline()
child.communicate(b"\\n")
print("reaped", flush=True)
sys.stdin.readline()
"""


def test_the_cpu_of_children_counts_while_they_run_and_after_they_end():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert parent.stdout.readline() == "burnt\n"
        assert cpu.tree_seconds(parent.pid) >= 0.25
        parent.stdin.write("reap\n")
        parent.stdin.flush()
        assert parent.stdout.readline() == "reaped\n"
        assert cpu.tree_seconds(parent.pid) >= 0.25
    finally:
        parent.stdin.close()
        parent.wait(10)


def test_a_process_is_not_charged_for_its_siblings():
    subprocess.run([sys.executable, "-c", BURN], check=True)
    sibling = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert cpu.tree_seconds(sibling.pid) < 0.2
    finally:
        sibling.stdin.close()
        sibling.wait(10)
