"""Logins as rows: each one a LoginSession, which the session and remember cookies name by a token of its own.

Flask-Login keeps the token as its user id, in the session cookie and, with "Remember me", in its
remember cookie; load() (its user loader) finds the row again and refuses one that has ended or
expired, so both lifetimes hold on the server whatever a cookie says, and two logins never share a
cookie. Logging out deletes that row alone; a password change, or "log out everywhere", all of an
author's rows.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

import sqlalchemy as sa
from flask import request, session
from flask_login import login_user, logout_user

from .config import REMEMBER_FOR, SESSION_FOR
from .extensions import db
from .models import DEVICE_MAX, TOKEN_MAX, Author, LoginSession, new_session_token, utcnow

TOKEN_SHAPE = re.compile(rf"[0-9a-f]{{{TOKEN_MAX}}}")  # as models.new_session_token makes them
UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def device() -> str:
    """The browser, as its User-Agent describes it: printable ASCII, cut to fit."""
    described = UNPRINTABLE.sub(" ", request.headers.get("User-Agent", "")).strip()
    return described[:DEVICE_MAX] or "an unnamed browser"


def create(author: Author, remember: bool, now: datetime | None = None) -> str:
    """A new login row for `author` from this request's browser; returns the token its cookies carry."""
    now = now or utcnow()
    token = new_session_token()
    login = LoginSession(author=author, token_hash=digest(token), device=device(), remembered=remember,
                         created_at=now, expires_at=now + (REMEMBER_FOR if remember else SESSION_FOR))
    db.session.add(login)
    author.login, author.login_token = login, token
    return token


def start(author: Author, remember: bool = False) -> None:
    """Log `author` in on a new session: nothing from before (a CSRF token, a planted id) carries over."""
    session.clear()
    now = utcnow()
    prune(now)
    create(author, remember, now)
    db.session.commit()
    login_user(author, remember=remember, duration=REMEMBER_FOR)


def load(token: str) -> Author | None:
    """Flask-Login's user loader: the author of the login `token` names, while it lasts."""
    if not TOKEN_SHAPE.fullmatch(token or ""):
        return None
    login = db.session.scalar(sa.select(LoginSession).where(LoginSession.token_hash == digest(token),
                                                            LoginSession.expires_at > utcnow()))
    if login is None:
        return None
    author = login.author
    author.login, author.login_token = login, token
    return author


def end_this(author: Author) -> None:
    """Log this browser out: its login ends, the author's others go on."""
    if author.login is not None:  # None once "log out everywhere" has ended it
        db.session.execute(sa.delete(LoginSession).where(LoginSession.id == author.login.id))
        db.session.commit()
    session.clear()
    logout_user()  # after the clear: it also asks for the remember cookie to be deleted


def end_all(author: Author) -> None:
    """End every login of `author`, on every device (commits)."""
    db.session.execute(sa.delete(LoginSession).where(LoginSession.author_id == author.id))
    db.session.commit()
    author.login = None


def active(author: Author) -> list[LoginSession]:
    return list(db.session.scalars(sa.select(LoginSession).where(
        LoginSession.author_id == author.id, LoginSession.expires_at > utcnow()).order_by(
        LoginSession.created_at.desc(), LoginSession.id.desc())))


def prune(now: datetime) -> None:
    """Drop expired logins, so the table holds only ones that could still be used."""
    db.session.execute(sa.delete(LoginSession).where(LoginSession.expires_at <= now))
