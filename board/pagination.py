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
from functools import cache
from typing import Protocol

import sqlalchemy as sa

from . import reads
from .models import Author, Post

_CURSOR_MAX = 64  # an encoded cursor is ~32 characters; anything longer is not ours
_PLAIN = re.compile(r"(\d{8}T\d{12})\.(\d{1,18})")


class InvalidCursor(ValueError):
    """A cursor that this app did not make (garbled, truncated, oversized)."""


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    id: int

    @classmethod
    def of(cls, post: Listed) -> Cursor:
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


class Listed(Protocol):
    """A post as lists show it: a row of plain values, not an ORM object."""

    id: int
    slug: str
    title: str
    author_id: int
    author_name: str
    created_at: datetime


class Whole(Listed, Protocol):
    """A post as the API gives it: a listed post with its content and last edit time."""

    content: str
    updated_at: datetime


@dataclass(frozen=True)
class Page:
    posts: list[Listed]
    older: str | None  # cursor for the next page back in time
    newer: str | None  # cursor for the page before this one, if any


_KEY = sa.tuple_(Post.created_at, Post.id)
# Typed, so each backend gets the timestamp in the form it stores (SQLite compares text).
_CURSOR = sa.tuple_(sa.bindparam("cursor_at", type_=Post.created_at.type),
                    sa.bindparam("cursor_id", type_=Post.id.type))


@cache
def listing(*, by_author: bool, whole: bool, direction: str) -> sa.Select:
    """Posts with their authors' names: newest first from the top ("first") or before a cursor
    ("older"), oldest first after one ("newer").

    One query, no N+1, plain rows rather than ORM objects (a list needs no
    identity map or change tracking). Built once per shape, with bound
    parameters, so a request spends nothing on building SQL. Only `whole`
    posts carry the content (up to 20,000 characters a post) and the edit time,
    which lists do not show.
    """
    columns = [Post.id, Post.slug, Post.title, Post.author_id, Author.name.label("author_name"), Post.created_at]
    query = sa.select(*columns, *([Post.content, Post.updated_at] if whole else [])).join(Post.author)
    if by_author:
        query = query.where(Post.author_id == sa.bindparam("author_id"))
    if direction == "older":
        query = query.where(_KEY < _CURSOR)
    elif direction == "newer":
        query = query.where(_KEY > _CURSOR)
    order = sa.asc if direction == "newer" else sa.desc
    return query.order_by(order(Post.created_at), order(Post.id)).limit(sa.bindparam("limit"))


@dataclass(frozen=True)
class Profile:
    """An author as their page shows them."""

    id: int
    name: str
    created_at: datetime


@cache
def author_listing(direction: str) -> sa.Select:
    """An author with a page of their posts in one query: a row per post, carrying the author too; a row of
    the author alone, its post columns NULL, when the page is empty; no row when there is no such author."""
    page = listing(by_author=True, whole=False, direction=direction).subquery()
    order = sa.asc if direction == "newer" else sa.desc
    return (sa.select(Author.id.label("profile_id"), Author.name.label("profile_name"),
                      Author.created_at.label("profile_since"), *page.c)
            .outerjoin(page, sa.true()).where(Author.id == sa.bindparam("author_id"))
            .order_by(order(page.c.created_at), order(page.c.id)))


def fetch_page(limit: int, before: str | None = None, after: str | None = None, author_id: int | None = None,
               whole: bool = False) -> Page:
    """One page: the `limit` posts older than `before`, or newer than `after`, optionally one author's,
    as `Whole` posts if `whole`, else as `Listed` ones.

    Raises InvalidCursor for a cursor this app could not have made.
    """
    query = listing(by_author=author_id is not None, whole=whole, direction=direction_of(before, after))
    return paged(read(query, limit, before, after, author_id), limit, before, after)


def fetch_author_page(author_id: int, limit: int, before: str | None = None,
                      after: str | None = None) -> tuple[Profile | None, Page]:
    """The author (None if there is none) and a page of their posts, as fetch_page() gives it, in one query."""
    rows = read(author_listing(direction_of(before, after)), limit, before, after, author_id)
    if not rows:
        return None, Page([], older=None, newer=None)
    profile = Profile(rows[0].profile_id, rows[0].profile_name, rows[0].profile_since)
    return profile, paged([row for row in rows if row.id is not None], limit, before, after)


def direction_of(before: str | None, after: str | None) -> str:
    return "newer" if after else "older" if before else "first"


def read(query: sa.Select, limit: int, before: str | None, after: str | None, author_id: int | None) -> list:
    params: dict = {"limit": limit + 1, "author_id": author_id}
    if after or before:
        cursor = Cursor.decode(after or before)
        params.update(cursor_at=cursor.created_at, cursor_id=cursor.id)
    # Core on the read path's connection: plain rows, without the ORM's result processing.
    return reads.session().connection().execute(query, params).all()


def paged(rows: list, limit: int, before: str | None, after: str | None) -> Page:
    """The page `rows` make: up to `limit + 1` posts, in the order the listing fetched them."""
    if after:
        more_newer = len(rows) > limit
        posts = list(reversed(rows[:limit]))
        return Page(posts, older=Cursor.of(posts[-1]).encode() if posts else None,
                    newer=Cursor.of(posts[0]).encode() if posts and more_newer else None)
    posts = list(rows[:limit])
    return Page(posts, older=Cursor.of(posts[-1]).encode() if len(rows) > limit else None,
                newer=Cursor.of(posts[0]).encode() if before and posts else None)
