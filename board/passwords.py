"""Which passwords are refused: NIST SP 800-63B asks to check new ones against known weak
passwords and words from the context (here the account's email address)."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

COMMON = "This password is one of the most common; please choose one that is harder to guess."
EMAIL = "Your password cannot be your email address."


def folded(text: str) -> str:
    """As a person would read it: compatibility forms (fullwidth "ｐａｓｓ") as their plain letters, case ignored."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold()).strip()


def letters_and_digits(text: str) -> str:
    return "".join(char for char in folded(text) if char.isalnum())


@cache
def common_passwords() -> frozenset[str]:
    lines = (Path(__file__).with_name("common-passwords.txt")).read_text(encoding="utf-8").splitlines()
    return frozenset(folded(line) for line in lines if line and not line.startswith("#"))


def from_email(password: str, email: str) -> bool:
    """The address, its local part, its domain or the two without the domain's suffix, however spaced,
    punctuated or cased, perhaps with digits after."""
    local, _, domain = folded(email).partition("@")
    name = domain.split(".", 1)[0]
    words = {letters_and_digits(part) for part in (email, local, domain, name, local + name)} - {""}
    return re.sub(r"[0-9]+$", "", letters_and_digits(password)) in words or letters_and_digits(password) in words


def problem(password: str, email: str | None) -> str | None:
    """Why `password` may not be used with `email`, or None when it may."""
    if folded(password) in common_passwords():
        return COMMON
    if email and from_email(password, email):
        return EMAIL
    return None
