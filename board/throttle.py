"""Login throttling: after MAX_FAILURES wrong passwords for one email address
within WINDOW, that address cannot log in until the window ends.

Kept in the database, so every worker and every instance sees the same count;
unknown addresses are counted too, so a lock says nothing about whether an
account exists. Guessing across many addresses at once is not slowed here:
that calls for limits by client address at the load balancer (AWS WAF).
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .extensions import db
from .models import LoginThrottle, utcnow

MAX_FAILURES = 10
WINDOW = timedelta(minutes=15)


def locked_for(email: str) -> timedelta | None:
    """How long `email` stays locked, or None if it may try to log in."""
    row = db.session.get(LoginThrottle, email)
    if row is None or row.failures < MAX_FAILURES:
        return None
    left = row.since + WINDOW - utcnow()
    return left if left > timedelta(0) else None


def record_failure(email: str) -> None:
    """Count one wrong password; concurrent failures all count (an atomic upsert).

    Windows that have ended are dropped first, this address's included, so the
    table holds at most one window's worth of addresses however many are tried.
    """
    now = utcnow()
    db.session.execute(sa.delete(LoginThrottle).where(LoginThrottle.since <= now - WINDOW))
    insert = (postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert)(LoginThrottle)
    db.session.execute(insert.values(email=email, failures=1, since=now).on_conflict_do_update(
        index_elements=[LoginThrottle.email], set_={"failures": LoginThrottle.failures + 1}))
    db.session.commit()


def forget(email: str) -> None:
    """A successful login starts the count again.

    Most logins follow no failure: they read that there is no count (by primary
    key) and write nothing, where a DELETE would cost a commit and expire the
    author just loaded.
    """
    if db.session.get(LoginThrottle, email) is not None:
        db.session.execute(sa.delete(LoginThrottle).where(LoginThrottle.email == email))
        db.session.commit()
