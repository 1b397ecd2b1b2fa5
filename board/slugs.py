"""URL slugs from titles: ASCII, lower-case, hyphenated, unique with a numeric suffix."""

from __future__ import annotations

import re
import unicodedata

from .models import SLUG_MAX

_SUFFIX_ROOM = 8  # "-" and up to seven digits


def slugify(title: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    slug = slug[: SLUG_MAX - _SUFFIX_ROOM].rstrip("-")
    return slug or "post"


def first_free(base: str, taken: set[str]) -> str:
    """`base`, or `base-2`, `base-3`, ... whichever is not taken."""
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"
