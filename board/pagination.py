"""Keyset (cursor) paging on (created_at, id), newest first.

A cursor names the last post a page showed; the next page is an index range
scan from there, so page 50,000 costs what page 1 costs, and posts added
meanwhile never shift or repeat entries. Cursors are opaque to clients but not
secret: a well-formed cursor someone made up just starts the walk elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, defer

from .extensions import db
from .models import Post

_CURSOR_MAX = 64  # an encoded cursor is ~32 characters; anything longer is not ours
_PLAIN = re.compile(r"(\d{8}T\d{12})\.(\d{1,18})")


class InvalidCursor(ValueError):
    """A cursor that this app did not make (garbled, truncated, oversized)."""


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    id: int

    @classmethod
    def of(cls, post: Post) -> Cursor:
        return cls(post.created_at, post.id)

    def encode(self) -> str:
        plain = f"{self.created_at:%Y%m%dT%H%M%S%f}.{self.id}"
        return base64.urlsafe_b64encode(plain.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        if not text or len(text) > _CURSOR_MAX:
            raise InvalidCursor("invalid cursor")
        try:
            plain = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidCursor("invalid cursor") from None
        match = _PLAIN.fullmatch(plain)
        if not match:
            raise InvalidCursor("invalid cursor")
        try:
            created_at = datetime.strptime(match[1], "%Y%m%dT%H%M%S%f")
        except ValueError:
            raise InvalidCursor("invalid cursor") from None
        return cls(created_at, int(match[2]))


@dataclass(frozen=True)
class Page:
    posts: list[Post]
    older: str | None  # cursor for the next page back in time
    newer: str | None  # cursor for the page before this one, if any


def newest_first(author_id: int | None = None, with_content: bool = False) -> sa.Select:
    """Posts with their authors (one query, no N+1), optionally one author's.

    Lists leave the content out (up to 20,000 characters a post that the page does not show).
    """
    query = sa.select(Post).join(Post.author).options(contains_eager(Post.author))
    if not with_content:
        query = query.options(defer(Post.content, raiseload=True))
    if author_id is not None:
        query = query.where(Post.author_id == author_id)
    return query


def fetch_page(query: sa.Select, limit: int, before: str | None = None, after: str | None = None) -> Page:
    """One page of `query`: the `limit` posts older than `before`, or newer than `after`.

    Raises InvalidCursor for a cursor this app could not have made.
    """
    key = sa.tuple_(Post.created_at, Post.id)
    if after:
        cursor = Cursor.decode(after)
        rows = db.session.scalars(query.where(key > (cursor.created_at, cursor.id))
                                  .order_by(Post.created_at.asc(), Post.id.asc()).limit(limit + 1)).all()
        more_newer = len(rows) > limit
        posts = list(reversed(rows[:limit]))
        return Page(posts, older=Cursor.of(posts[-1]).encode() if posts else None,
                    newer=Cursor.of(posts[0]).encode() if posts and more_newer else None)
    if before:
        cursor = Cursor.decode(before)
        query = query.where(key < (cursor.created_at, cursor.id))
    rows = db.session.scalars(query.order_by(Post.created_at.desc(), Post.id.desc()).limit(limit + 1)).all()
    posts = list(rows[:limit])
    return Page(posts, older=Cursor.of(posts[-1]).encode() if len(rows) > limit else None,
                newer=Cursor.of(posts[0]).encode() if before and posts else None)

