"""Authors and their posts. Times are naive UTC, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from functools import cache

from flask_login import UserMixin
from sqlalchemy import DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from . import names
from .extensions import db

TITLE_MAX = 200
SLUG_MAX = 220
CONTENT_MAX = 20_000
NAME_MAX = 80
EMAIL_MAX = 254
TOKEN_MAX = 64
CLIENT_KEY_MAX = 64


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_session_token() -> str:
    return secrets.token_hex(TOKEN_MAX // 2)


@cache
def _dummy_hash() -> str:
    # A hash of a password nobody knows, made as real ones are (same method and cost).
    return generate_password_hash(secrets.token_hex(16))


class Author(UserMixin, db.Model):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    # The name's confusable skeleton (board/names.py): one author per key. Text: a skeleton can be longer.
    name_key: Mapped[str] = mapped_column(Text, index=True, default=lambda context: names.key(
        context.get_current_parameters()["name"]))
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # What the session and remember cookies name the author by (Flask-Login's alternative id):
    # a new one ends every session and remember cookie the author has.
    session_token: Mapped[str] = mapped_column(String(TOKEN_MAX), unique=True, default=new_session_token)

    posts: Mapped[list[Post]] = relationship(back_populates="author", cascade="all, delete-orphan",
                                             passive_deletes=True)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        return self.session_token

    def end_sessions(self) -> None:
        self.session_token = new_session_token()


def password_matches(author: Author | None, password: str) -> bool:
    """Whether `password` is the author's; with no author, a hash is checked all the same,
    so the time a login takes does not tell whether an account exists."""
    if author is None:
        check_password_hash(_dummy_hash(), password)
        return False
    return author.check_password(password)


class Post(db.Model):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    slug: Mapped[str] = mapped_column(String(SLUG_MAX), unique=True)
    content: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    author: Mapped[Author] = relationship(back_populates="posts")

    @property
    def author_name(self) -> str:
        # The name lists get as a column (pagination.Listed), so one template and one JSON shape fit both.
        return self.author.name

    __table_args__ = (
        # Keyset pagination walks (created_at, id) newest first, on the index
        # and on an author's page; these make every page an index range scan.
        Index("ix_posts_created_at_id", "created_at", "id"),
        Index("ix_posts_author_id_created_at_id", "author_id", "created_at", "id"),
    )


class LoginThrottle(db.Model):
    """Login attempts per email address (known or not) and client, and per address from all clients
    (client "*"), so passwords cannot be guessed at speed (board/throttle.py)."""

    __tablename__ = "login_throttles"

    email: Mapped[str] = mapped_column(String(EMAIL_MAX), primary_key=True)  # lower-cased, as stored on authors
    client: Mapped[str] = mapped_column(String(CLIENT_KEY_MAX), primary_key=True)
    attempts: Mapped[int]
    since: Mapped[datetime] = mapped_column(DateTime, index=True)  # the window's first attempt; ended ones are pruned
