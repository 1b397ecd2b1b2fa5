"""Login throttling, counted before the password is checked.

Each attempt is counted twice in one statement: for its email address and
client, and for the address from all clients. Within a WINDOW from an
address's first attempt, a client gets PER_CLIENT attempts at it and all
clients together PER_ADDRESS; the attempts past either get no password check.
So a stranger cannot lock the owner out with a few wrong passwords (their count
is their own), yet guessing from many clients still stops at PER_ADDRESS.

The count is one atomic upsert that returns the new totals, so concurrent
attempts each see their own number, however many arrive at once. Unknown
addresses are counted the same way: a refusal says nothing about whether an
account exists. A successful login gives its attempt back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import request
from sqlalchemy.dialects import postgresql, sqlite

from .extensions import db
from .models import CLIENT_KEY_MAX, LoginThrottle, utcnow

PER_CLIENT = 10
PER_ADDRESS = 100
WINDOW = timedelta(minutes=15)
ALL_CLIENTS = "*"


@dataclass(frozen=True)
class Attempt:
    email: str
    client: str
    refused_for: timedelta | None  # None: the password may be checked


def client_key() -> str:
    """The client, as the proxies saw it: the X-Forwarded-For chain and the peer, hashed to a fixed length.

    A client that sends made-up X-Forwarded-For values gets a new count with each, but they all
    add to the address's own count, which caps what that buys.
    """
    route = ",".join([*request.access_route, request.remote_addr or ""])
    return hashlib.sha256(route.encode()).hexdigest()[:CLIENT_KEY_MAX]


def attempt(email: str) -> Attempt:
    """Count an attempt to log in as `email` from this client, and say whether it may go ahead."""
    now = utcnow()
    cutoff = now - WINDOW
    client = client_key()
    prune(cutoff)
    table = LoginThrottle.__table__
    insert = (postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert)(table)
    # An ended window starts again with this attempt; an open one counts on from its start.
    ended = table.c.since <= cutoff
    upsert = insert.values([{"email": email, "client": key, "attempts": 1, "since": now}
                            for key in (client, ALL_CLIENTS)]).on_conflict_do_update(
        index_elements=[table.c.email, table.c.client],
        set_={"attempts": sa.case((ended, 1), else_=table.c.attempts + 1),
              "since": sa.case((ended, insert.excluded.since), else_=table.c.since)},
    ).returning(table.c.client, table.c.attempts, table.c.since)
    counts = {row.client: row for row in db.session.execute(upsert)}
    db.session.commit()
    limits = {client: PER_CLIENT, ALL_CLIENTS: PER_ADDRESS}
    over = [counts[key].since for key, limit in limits.items() if counts[key].attempts > limit]
    return Attempt(email, client, wait(max(over), now) if over else None)


def wait(since: datetime, now: datetime) -> timedelta:
    return max(since + WINDOW - now, timedelta(seconds=1))


def prune(cutoff: datetime) -> None:
    """Drop ended windows, so the table holds at most one window's worth of addresses however many are tried.

    Its own transaction, so the rows it locks are let go before the count takes its own.
    """
    db.session.execute(sa.delete(LoginThrottle).where(LoginThrottle.since <= cutoff))
    db.session.commit()


def succeeded(attempt: Attempt) -> None:
    """The right password: this client starts again, and the address's count gets this attempt back."""
    db.session.execute(sa.delete(LoginThrottle).where(LoginThrottle.email == attempt.email,
                                                      LoginThrottle.client == attempt.client))
    db.session.execute(sa.update(LoginThrottle)
                       .where(LoginThrottle.email == attempt.email, LoginThrottle.client == ALL_CLIENTS,
                              LoginThrottle.attempts > 0)
                       .values(attempts=LoginThrottle.attempts - 1))
    db.session.commit()
