"""Shell blocks of the README and docs/, run as a reader pastes them, against a local AWS endpoint.

A `<placeholder>` the text tells the reader to replace becomes `test-<placeholder>-value`; `aws` is a shim
that also passes AWS_ENDPOINT_URL as --endpoint-url, because AWS CLI v1 sends RDS calls in us-east-1 to
rds.amazonaws.com whatever AWS_ENDPOINT_URL says (its overridesslcommonname customization).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from testkit.ebcli import git
from testkit.tree import copy_tree

PLACEHOLDER = re.compile(r"<([a-z][a-z0-9-]*)>")


def section(markdown: str, heading: str) -> str:
    """A level-2 section with its subsections."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", markdown, flags=re.MULTILINE | re.DOTALL)
    assert match, f"no section '## {heading}'"
    return match.group(1)


def shell_blocks(markdown: str) -> list[str]:
    """Indented code blocks and fenced sh/bash/shell blocks, in order."""
    blocks, current, fence = [], [], None
    for line in markdown.splitlines() + ["."]:  # a last line of text ends a block the markdown ends with
        if fence is not None:
            if line.startswith("```"):
                if fence in ("sh", "bash", "shell"):
                    blocks.append("\n".join(current) + "\n")
                current, fence = [], None
            else:
                current.append(line)
        elif line.startswith("```"):
            fence = line[3:].strip()
        elif line.startswith("    ") or (current and not line.strip()):
            current.append(line[4:])
        elif current:
            blocks.append("\n".join(current).strip() + "\n")
            current = []
    return [block for block in blocks if block.strip()]


def fill(block: str) -> str:
    return PLACEHOLDER.sub(lambda m: f"test-{m.group(1)}-value", block)


def aws_shim(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    shim = folder / "aws"
    aws = Path(sys.executable).parent / "aws"
    shim.write_text(f'#!/bin/sh\nexec "{aws}" --endpoint-url "$AWS_ENDPOINT_URL" "$@"\n')
    shim.chmod(0o755)
    return folder


def quick_polls(folder: Path) -> Path:
    """A sitecustomize that makes the CLIs' polling sleeps (the EB CLI waits 5 s between event reads) a tenth
    as long; their timeouts are measured on the clock, so nothing else changes."""
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        "import time\n_sleep = time.sleep\ntime.sleep = lambda seconds: _sleep(seconds / 10)\n")
    return folder


def run_block(tree: Path, endpoint: str, block: str) -> subprocess.CompletedProcess:
    shims = aws_shim(tree.parent / "bin")
    environ = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                    "HOME": str(tree.parent), "PATH": f"{shims}:{Path(sys.executable).parent}:{os.environ['PATH']}",
                    "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                    "PYTHONPATH": str(quick_polls(tree.parent / "site"))})
    return subprocess.run(["bash", "-euo", "pipefail", "-c", fill(block)], cwd=tree, env=environ,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def run_blocks(tree: Path, server: str, blocks) -> None:
    """Each shell block as a reader pastes it, in order; the first that fails stops the test with its output."""
    for number, block in enumerate(blocks, 1):
        result = run_block(tree, server, block)
        assert result.returncode == 0, f"block {number} failed:\n{block}\n{result.stdout}\n{result.stderr}"


def cloned(tmp_path: Path) -> Path:
    tree = copy_tree(tmp_path / "board")
    git(tree, "init", "-q")
    git(tree, "add", "-A")
    git(tree, "commit", "-qm", "clone")
    return tree
