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
DEVICE_MAX = 200


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
    # Nullable only for authors the previous release inserts during a rolling deploy (migration 0005).
    # The insert's parameters are keyed by column, which a rename can move (docs/schema-changes.md's example).
    name_key: Mapped[str | None] = mapped_column(Text, index=True, default=lambda context: names.key(
        context.get_current_parameters()[Author.name.expression.key]))
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Unused: what the previous release's cookies named the author by (one token for all their logins,
    # now a LoginSession each). Still filled in, as that release requires while a deployment rolls;
    # a later release drops it (migrations/versions/0004_login_sessions.py).
    session_token: Mapped[str] = mapped_column(String(TOKEN_MAX), unique=True, default=new_session_token)

    posts: Mapped[list[Post]] = relationship(back_populates="author", cascade="all, delete-orphan",
                                             passive_deletes=True)
    logins: Mapped[list[LoginSession]] = relationship(back_populates="author", cascade="all, delete-orphan",
                                                      passive_deletes=True)

    # The login this object was loaded for, and its token (board/sessions.py): not columns.
    login = None
    login_token = None

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str | None:
        # What Flask-Login keeps in the session and remember cookies: the login's token, never the author's id.
        return self.login_token


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
    """Attempts per email address (known or not) and client (a network, or a device), per address from all
    networks (client "*"), and per network at every address (email "*"), so passwords cannot be guessed,
    nor hashed, at speed (board/throttle.py)."""

    __tablename__ = "login_throttles"

    email: Mapped[str] = mapped_column(String(EMAIL_MAX), primary_key=True)  # lower-cased, as stored on authors
    client: Mapped[str] = mapped_column(String(CLIENT_KEY_MAX), primary_key=True)
    attempts: Mapped[int]
    since: Mapped[datetime] = mapped_column(DateTime, index=True)  # the window's first attempt; ended ones are pruned


class LoginSession(db.Model):
    """One login: its browser, when it began and when the server stops honouring it (board/sessions.py).

    The session and remember cookies carry a random token; only its SHA-256 is stored, so the table
    alone lets nobody in.
    """

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(TOKEN_MAX), unique=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"), index=True)
    device: Mapped[str] = mapped_column(String(DEVICE_MAX))  # the browser's User-Agent, as it described itself
    remembered: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)

    author: Mapped[Author] = relationship(back_populates="logins")
