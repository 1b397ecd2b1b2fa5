"""Throttling of what costs a password hash (logins, registrations), counted before the password is checked.

Counts live in windows of WINDOW from their first attempt, keyed by an email address and a client.
An attempt from a browser holding a device cookie for the account it tries (board/devices.py) is
counted for that device alone: PER_CLIENT at the address. Any other attempt is counted, in this
order, stopping at the first count over its limit:

- for its network across all addresses: PER_NETWORK (registrations count here too), so one client
  cannot make the server hash passwords all day or try one address after another;
- for its network at this address: PER_CLIENT;
- for all networks at this address: PER_ADDRESS, which only a campaign from many networks reaches.

A network's attempts past its own limit never reach the address's shared count, so one stranger
cannot lock anyone out; a campaign from many networks locks out browsers without a device cookie,
never the owner's. Each count is one atomic upsert that returns the new total, so concurrent
attempts each see their own number. Unknown addresses are counted the same way: a refusal says
nothing about whether an account exists. A successful login gives its attempt back.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import request
from sqlalchemy.dialects import postgresql, sqlite

from .extensions import db
from .models import CLIENT_KEY_MAX, LoginThrottle, utcnow

PER_CLIENT = 10
PER_ADDRESS = 100
PER_NETWORK = 30
WINDOW = timedelta(minutes=15)
ALL_CLIENTS = "*"
ANY_ADDRESS = "*"  # no email is "*": the count of a network's attempts at every address


@dataclass(frozen=True)
class Attempt:
    email: str
    client: str
    refused_for: timedelta | None = None  # None: the password may be checked
    by_network: bool = False  # refused for the network's attempts at every address, not this one's

    @property
    def device(self) -> bool:
        return self.client.startswith("device:")


def network() -> str:
    """The client's address as the trusted proxies saw it (PROXY_HOPS); IPv6 to its /64, which one subscriber holds."""
    address = request.remote_addr or ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "ip:" + address[:CLIENT_KEY_MAX - 3]
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return "ip:" + str(ip.ipv4_mapped)
        return "ip:" + str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return "ip:" + str(ip)


def device_key(nonce: str) -> str:
    return "device:" + hashlib.sha256(nonce.encode()).hexdigest()[:CLIENT_KEY_MAX - 7]


def attempt(email: str, device: str | None = None) -> Attempt:
    """Count an attempt to log in as `email` (from the device with nonce `device`, if any); may it go ahead?"""
    now = utcnow()
    prune(now - WINDOW)
    if device is not None:
        client = device_key(device)
        limits = [(email, client, PER_CLIENT)]
    else:
        client = network()
        limits = [(ANY_ADDRESS, client, PER_NETWORK), (email, client, PER_CLIENT), (email, ALL_CLIENTS, PER_ADDRESS)]
    result = Attempt(email, client)
    for key_email, key_client, limit in limits:
        attempts, since = count(key_email, key_client, now)
        if attempts > limit:
            result = Attempt(email, client, wait(since, now), by_network=key_email == ANY_ADDRESS)
            break
    db.session.commit()
    return result


def registration() -> Attempt:
    """Count a registration against this network's attempts at every address; may it go ahead?"""
    now = utcnow()
    prune(now - WINDOW)
    client = network()
    attempts, since = count(ANY_ADDRESS, client, now)
    db.session.commit()
    return Attempt(ANY_ADDRESS, client, wait(since, now) if attempts > PER_NETWORK else None, by_network=True)


def count(email: str, client: str, now: datetime) -> tuple[int, datetime]:
    """One more attempt on the (email, client) count; its new total and the start of its window."""
    table = LoginThrottle.__table__
    insert = (postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert)(table)
    # An ended window starts again with this attempt; an open one counts on from its start.
    ended = table.c.since <= now - WINDOW
    upsert = insert.values(email=email, client=client, attempts=1, since=now).on_conflict_do_update(
        index_elements=[table.c.email, table.c.client],
        set_={"attempts": sa.case((ended, 1), else_=table.c.attempts + 1),
              "since": sa.case((ended, insert.excluded.since), else_=table.c.since)},
    ).returning(table.c.attempts, table.c.since)
    row = db.session.execute(upsert).one()
    return row.attempts, row.since


def wait(since: datetime, now: datetime) -> timedelta:
    return max(since + WINDOW - now, timedelta(seconds=1))


def prune(cutoff: datetime) -> None:
    """Drop ended windows, so the table holds at most one window's worth of addresses however many are tried.

    Its own transaction, so the rows it locks are let go before the count takes its own.
    """
    db.session.execute(sa.delete(LoginThrottle).where(LoginThrottle.since <= cutoff))
    db.session.commit()


def succeeded(attempt: Attempt) -> None:
    """The right password: this client starts again at the address, and the shared counts get this attempt back."""
    throttles = LoginThrottle.__table__.c
    db.session.execute(sa.delete(LoginThrottle).where(throttles.email == attempt.email,
                                                      throttles.client == attempt.client))
    if not attempt.device:
        shared = [(attempt.email, ALL_CLIENTS), (ANY_ADDRESS, attempt.client)]
        db.session.execute(sa.update(LoginThrottle)
                           .where(sa.tuple_(throttles.email, throttles.client).in_(shared), throttles.attempts > 0)
                           .values(attempts=throttles.attempts - 1))
    db.session.commit()
