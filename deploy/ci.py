"""Output that reads well in a terminal and in a GitHub Actions log (workflow commands)."""

from __future__ import annotations

import os
from contextlib import contextmanager


def github() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def escape(text: str) -> str:
    """Workflow-command data: %, CR and LF are encoded, as GitHub's toolkit does."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


@contextmanager
def group(title: str, out=print):
    """A collapsible ::group:: in Actions; a plain heading elsewhere."""
    if not github():
        out(title)
        yield
        return
    out(f"::group::{escape(title)}")
    try:
        yield
    finally:
        out("::endgroup::")


def error_line(message: str) -> str:
    return f"::error title=deploy::{escape(message)}" if github() else f"deploy: {message}"
