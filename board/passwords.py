"""Which passwords are refused: NIST SP 800-63B asks to check new ones against known weak
passwords and words from the context (here the account's email address)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

COMMON = "This password is one of the most common; please choose one that is harder to guess."
EMAIL = "Your password cannot be your email address."


@cache
def common_passwords() -> frozenset[str]:
    lines = (Path(__file__).with_name("common-passwords.txt")).read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def problem(password: str, email: str | None) -> str | None:
    """Why `password` may not be used with `email`, or None when it may."""
    folded = password.strip().casefold()
    if folded in common_passwords():
        return COMMON
    if email and folded in {email.strip().casefold(), email.strip().casefold().split("@")[0]}:
        return EMAIL
    return None
