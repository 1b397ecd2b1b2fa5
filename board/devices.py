"""Device cookies (OWASP's "Slow Down Online Guessing Attacks with Device Cookies").

A browser that logs in to an account gets a signed cookie naming that account (by a hash of its
email) and a random nonce. An attempt that brings a valid one for the account it tries is counted
for that browser alone (board/throttle.py): however many strangers guess, from however many
addresses, the owner's browser keeps its own allowance. Strangers hold no such cookie, since only a
right password earns one.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import after_this_request, current_app, request
from itsdangerous import BadData, URLSafeTimedSerializer

COOKIE = "device"
LIFETIME = timedelta(days=365)


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="device-cookie")


def _account(email: str) -> str:
    # The cookie is signed, not encrypted: it names the account without showing its address.
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def nonce_for(email: str) -> str | None:
    """This browser's device nonce for `email`, when it holds a valid device cookie for that account."""
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    try:
        account, nonce = _signer().loads(value, max_age=LIFETIME.total_seconds())
    except (BadData, UnicodeError, TypeError, ValueError):
        return None
    return nonce if account == _account(email) and isinstance(nonce, str) else None


def issue(email: str) -> None:
    """Give this browser a new device cookie for `email`, with this request's response."""
    value = _signer().dumps([_account(email), secrets.token_urlsafe(24)])

    @after_this_request
    def set_cookie(response):
        response.set_cookie(COOKIE, value, max_age=int(LIFETIME.total_seconds()), httponly=True, samesite="Lax")
        return response
