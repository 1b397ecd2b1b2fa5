"""CPU time of a process and everything it started, read from /proc (Linux).

Splits what a request costs between gunicorn and PostgreSQL: on Elastic
Beanstalk they run on different machines, here they share the same CPUs.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def available() -> bool:
    return (PROC / "self" / "stat").exists()


def _stat(pid: str) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of it and its reaped children) of one process, or None if it is gone."""
    try:
        fields = (PROC / pid / "stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return int(fields[1]), sum(int(ticks) for ticks in fields[11:15]) / TICKS  # utime stime cutime cstime


def tree_seconds(root: int) -> float:
    """CPU seconds (user + system) of `root` and all its descendants, live or ended."""
    stats = {int(pid): stat for pid in os.listdir(PROC) if pid.isdigit() and (stat := _stat(pid))}
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
            todo += children.get(pid, [])
    return total
