"""Whether one version label's commit comes after another's, by git ancestry (labels are git short SHAs).

A label names a commit when it starts with 7 to 40 hex digits, alone or before a `-` (`3f2a9c1b7d4e`,
`3f2a9c1b7d4e-dirty`). Order is decided in the local clone, so both commits must be in it: a shallow
clone (CI's default checkout, depth 1) holds only the newest and cannot decide.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .errors import DeployError

COMMIT = re.compile(r"([0-9a-f]{7,40})(?:-|$)")
OVERRIDE = "--allow-older"


def commit_of(label: str) -> str | None:
    match = COMMIT.match(label)
    return match[1] if match else None


def git(root: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    except OSError:
        raise DeployError(f"git is needed to order commits and could not run; or pass {OVERRIDE}") from None


def known(root: Path, commit: str) -> bool:
    return git(root, "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}").returncode == 0


def is_ancestor(root: Path, older: str, newer: str) -> bool:
    result = git(root, "merge-base", "--is-ancestor", older, newer)
    if result.returncode not in (0, 1):
        raise DeployError(f"git could not order {older} and {newer}: {result.stderr.strip()}; or pass {OVERRIDE}")
    return result.returncode == 0


def require_not_older(root: Path, label: str, running: str | None, env: str) -> None:
    """Refuse (exit 2) unless `label`'s commit is `running`'s or comes after it."""
    if not running or running == label:
        return
    new, current = commit_of(label), commit_of(running)
    for name, commit in ((label, new), (running, current)):
        if commit is None:
            raise DeployError(f"{env} runs {running}; {name} names no git commit, so whether {label} is older "
                              f"cannot be told: pass {OVERRIDE} to deploy it anyway")
        if not known(root, commit):
            raise DeployError(f"commit {commit} ({name}) is not in this clone, so whether {label} is older than "
                              f"{running} (which {env} runs) cannot be told: fetch the history (`git fetch "
                              f"--unshallow`; in Actions, checkout with fetch-depth: 0) or pass {OVERRIDE}")
    if is_ancestor(root, current, new):
        return
    if is_ancestor(root, new, current):
        raise DeployError(f"{label} is older than {running}, which {env} runs (an old run re-run, or runs that "
                          f"finished out of order?): pass {OVERRIDE} to roll {env} back to it on purpose")
    raise DeployError(f"{label} does not descend from {running}, which {env} runs (their histories diverged): "
                      f"pass {OVERRIDE} to deploy it anyway")
