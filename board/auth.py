"""Authors: register, log in and out, and a profile page listing their posts."""

from __future__ import annotations

import re
from math import ceil
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.exc import IntegrityError

from . import passwords, throttle
from .extensions import db, login_manager
from .forms import LoginForm, PasswordChangeForm, RegisterForm
from .models import TOKEN_MAX, Author, password_matches
from .pagination import InvalidCursor, fetch_author_page

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to do that."
login_manager.login_message_category = "info"

BAD_LOGIN = "Wrong email or password."  # the same for both, so emails cannot be probed


# The largest id an integer column holds on every backend: bigger ones in a URL are a 404, not an overflow.
ID_MAX = 2**31 - 1
TOKEN_SHAPE = re.compile(rf"[0-9a-f]{{{TOKEN_MAX}}}")  # as models.new_session_token makes them


@login_manager.user_loader
def load_author(session_token: str) -> Author | None:
    # The cookies name the author by their session token (Author.get_id), which logout and a
    # password change replace: then no cookie made before names anyone.
    if not TOKEN_SHAPE.fullmatch(session_token or ""):
        return None
    return db.session.scalar(sa.select(Author).where(Author.session_token == session_token))


def start_session(author: Author, remember: bool = False) -> None:
    """Log `author` in on a new session: nothing from before (a CSRF token, a planted id) carries over."""
    session.clear()
    login_user(author, remember=remember)


def safe_next(target: str | None) -> str | None:
    """A same-site path to go back to after login, or None for anything else."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(char) < 32 for char in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("pages.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        email = form.email.data.lower()
        author = Author(name=form.name.data, email=email)
        author.set_password(form.password.data)
        db.session.add(author)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            author = None
        if author is None:
            form.email.errors.append("An account with this email already exists.")
        else:
            start_session(author)
            flash(f"Welcome, {author.name}!", "success")
            return redirect(url_for("pages.index"))
    return render_template("auth/register.html", form=form), 200 if request.method == "GET" else 422


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        attempt = throttle.attempt(form.email.data)
        if attempt.refused_for is not None:
            current_app.logger.warning("login refused: too many attempts at one address")
            minutes = ceil(attempt.refused_for.total_seconds() / 60)
            form.form_errors.append(f"Too many attempts to log in to this address. Try again in {minutes} "
                                    f"minute{'s' if minutes != 1 else ''}.")
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(minutes * 60)}
        author = db.session.scalar(sa.select(Author).where(Author.email == attempt.email))
        if password_matches(author, form.password.data):
            throttle.succeeded(attempt)
            start_session(author, remember=form.remember.data)
            return redirect(safe_next(request.args.get("next")) or url_for("pages.index"))
        current_app.logger.info("failed login")
        form.form_errors.append(BAD_LOGIN)
    return render_template("auth/login.html", form=form), 200 if request.method == "GET" else 422


@bp.post("/logout")
@login_required
def logout():
    # POST only, so the CSRF check (CSRFProtect, on every POST) covers it. Every session and
    # remember cookie of the author ends, here and on their other devices.
    current_user.end_sessions()
    db.session.commit()
    session.clear()
    logout_user()  # after the clear: it also asks for the remember cookie to be deleted
    flash("You are logged out.", "info")
    return redirect(url_for("pages.index"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        author = current_user._get_current_object()
        attempt = throttle.attempt(author.email)  # a borrowed session must not make guessing fast
        if attempt.refused_for is not None:
            form.current.errors.append("Too many attempts; please try again later.")
        elif not password_matches(author, form.current.data):
            form.current.errors.append("That is not your current password.")
        elif problem := passwords.problem(form.password.data, author.email):
            form.password.errors.append(problem)
        else:
            throttle.succeeded(attempt)
            author.set_password(form.password.data)
            author.end_sessions()  # every other device is logged out
            db.session.commit()
            start_session(author)
            flash("Your password is changed; your other sessions are logged out.", "success")
            return redirect(url_for("auth.profile", author_id=author.id))
    return render_template("auth/password.html", form=form), 200 if request.method == "GET" else 422


@bp.get(f"/authors/<int(max={ID_MAX}):author_id>")
def profile(author_id: int):
    try:
        author, page = fetch_author_page(author_id, current_app.config["POSTS_PER_PAGE"],
                                         before=request.args.get("before"), after=request.args.get("after"))
    except InvalidCursor:
        abort(400, "That page link is broken; start again from the first page.")
    if author is None:
        abort(404)
    return render_template("auth/profile.html", author=author, page=page)
