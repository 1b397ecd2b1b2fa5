"""Hooks run on the instance as root: LF endings on every checkout, executable, and each a Python script run by
the host's own python3 (3.9 on Amazon Linux 2023) that a reader can run alone: standard library only, its
grammar and library calls no newer than 3.9."""

from __future__ import annotations

import ast
import os
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


def test_there_is_a_predeploy_hook():
    assert ROOT / ".platform" / "hooks" / "predeploy" / "01_migrate.py" in HOOKS


@pytest.mark.parametrize("path", PLATFORM_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_platform_files_have_lf_line_endings(path):
    assert b"\r\n" not in path.read_bytes()


@pytest.mark.parametrize("path", [*PLATFORM_FILES, ROOT / "Procfile"], ids=lambda p: str(p.relative_to(ROOT)))
def test_files_the_platform_reads_are_checked_out_with_lf_whatever_core_autocrlf_says(path):
    relative = str(path.relative_to(ROOT))
    answer = subprocess.run(["git", "check-attr", "eol", "--", relative], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout
    assert answer.strip() == f"{relative}: eol: lf"


@pytest.mark.parametrize("path", HOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_hooks_are_executable_python_scripts(path):
    assert os.access(path, os.X_OK)
    assert path.read_text().splitlines()[0] == "#!/usr/bin/env python3"


@pytest.mark.parametrize("path", HOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_hooks_run_on_the_hosts_python_3_9_with_its_standard_library_alone(path):
    vermin = Path(sys.executable).parent / "vermin"
    if not os.access(vermin, os.X_OK):
        pytest.fail("vermin is missing: it is in requirements-dev.txt")
    tree = ast.parse(path.read_text(), feature_version=HOST_PYTHON)  # the grammar
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= sys.stdlib_module_names, imported - sys.stdlib_module_names
    # The library too: a function or argument newer than the host's Python is a violation.
    target = "-t={}.{}-".format(*HOST_PYTHON)
    result = subprocess.run([str(vermin), "--no-tips", "--violations", target, str(path)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
