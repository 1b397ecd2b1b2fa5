"""When an author name looks like another: Unicode's confusable skeleton (UTS #39).

Two names with one skeleton are drawn alike or nearly so ("Owner", "0wner",
"Οwner" with a Greek capital omicron, "OWNER"), so a name whose skeleton an
author already has is refused. The skeleton is disarm's `skeleton_key`: the
UTS #39 skeleton with its digit classes (0 as O, 1 as l), case folded and
with invisible characters dropped. It is kept in `authors.name_key`; a disarm
release that changes keys (its minor versions may) needs a migration that
computes them again, so requirements.txt pins it exactly.
"""

from __future__ import annotations

import sqlalchemy as sa
from disarm import skeleton_key

from .extensions import db


def key(name: str) -> str:
    # A name made only of characters the skeleton drops still has a key of its own.
    return skeleton_key(name, digit_policy="tr39") or name.casefold()


def taken(name: str) -> bool:
    """Whether an author already has this name, or one that looks like it."""
    from .models import Author

    return db.session.scalar(sa.select(Author.id).where(Author.name_key == key(name)).limit(1)) is not None
