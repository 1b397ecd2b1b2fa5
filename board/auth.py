"""Authors: register, log in and out, and a profile page listing their posts."""

from __future__ import annotations

from math import ceil
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from . import devices, passwords, sessions, throttle
from .extensions import db, login_manager
from .forms import LoginForm, PasswordChangeForm, RegisterForm
from .models import Author, password_matches
from .pagination import InvalidCursor, fetch_author_page

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to do that."
login_manager.login_message_category = "info"
# A session whose address or browser changes stays logged in but is no longer "fresh".
login_manager.session_protection = "basic"
# The cookies name a login (board/sessions.py), which logout, a password change or its age ends.
login_manager.user_loader(sessions.load)

BAD_LOGIN = "Wrong email or password."  # the same for both, so emails cannot be probed


# The largest id an integer column holds on every backend: bigger ones in a URL are a 404, not an overflow.
ID_MAX = 2**31 - 1


def too_many(attempt: throttle.Attempt) -> tuple[str, int]:
    """What a refused attempt is told, and the seconds to wait (Retry-After)."""
    minutes = ceil(attempt.refused_for.total_seconds() / 60)
    where = "from your network" if attempt.by_network else "to log in to this address"
    return f"Too many attempts {where}. Try again in {minutes} minute{'s' if minutes != 1 else ''}.", minutes * 60


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
        attempt = throttle.registration()  # each one hashes a password, and says whether the email is taken
        if attempt.refused_for is not None:
            current_app.logger.warning("registration refused: too many attempts from one network")
            message, seconds = too_many(attempt)
            form.form_errors.append(message)
            return render_template("auth/register.html", form=form), 429, {"Retry-After": str(seconds)}
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
            devices.issue(email)
            sessions.start(author)
            flash(f"Welcome, {author.name}!", "success")
            return redirect(url_for("pages.index"))
    return render_template("auth/register.html", form=form), 200 if request.method == "GET" else 422


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        attempt = throttle.attempt(form.email.data, devices.nonce_for(form.email.data))
        if attempt.refused_for is not None:
            current_app.logger.warning("login refused: too many attempts")
            message, seconds = too_many(attempt)
            form.form_errors.append(message)
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(seconds)}
        author = db.session.scalar(sa.select(Author).where(Author.email == attempt.email))
        if password_matches(author, form.password.data):
            throttle.succeeded(attempt)
            devices.issue(author.email)
            sessions.start(author, remember=form.remember.data)
            return redirect(safe_next(request.args.get("next")) or url_for("pages.index"))
        current_app.logger.info("failed login")
        form.form_errors.append(BAD_LOGIN)
    return render_template("auth/login.html", form=form), 200 if request.method == "GET" else 422


@bp.post("/logout")
@login_required
def logout():
    # POST only, so the CSRF check (CSRFProtect, on every POST) covers it. This browser's login
    # ends; the author's others go on ("Log out everywhere" ends them).
    sessions.end_this(current_user._get_current_object())
    flash("You are logged out.", "info")
    return redirect(url_for("pages.index"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        author = current_user._get_current_object()
        # Counted as a login is: a borrowed session must not make guessing fast.
        attempt = throttle.attempt(author.email, devices.nonce_for(author.email))
        if attempt.refused_for is not None:
            form.current.errors.append("Too many attempts; please try again later.")
        elif not password_matches(author, form.current.data):
            form.current.errors.append("That is not your current password.")
        elif problem := passwords.problem(form.password.data, author.email):
            form.password.errors.append(problem)
        else:
            throttle.succeeded(attempt)
            remembered = author.login.remembered
            author.set_password(form.password.data)
            sessions.end_all(author)  # every other device is logged out
            sessions.start(author, remember=remembered)
            flash("Your password is changed; your other sessions are logged out.", "success")
            return redirect(url_for("auth.profile", author_id=author.id))
    return render_template("auth/password.html", form=form), 200 if request.method == "GET" else 422


@bp.get("/account/sessions")
@login_required
def list_sessions():
    author = current_user._get_current_object()
    return render_template("auth/sessions.html", logins=sessions.active(author), current=author.login)


@bp.post("/account/sessions/end")
@login_required
def end_sessions():
    author = current_user._get_current_object()
    sessions.end_all(author)
    sessions.end_this(author)
    flash("You are logged out everywhere.", "info")
    return redirect(url_for("pages.index"))


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
