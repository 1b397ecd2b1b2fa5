"""Authors: register, log in and out, and a profile page listing their posts."""

from __future__ import annotations

from math import ceil
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.exc import IntegrityError

from . import throttle
from .database import read_only
from .extensions import db, login_manager
from .forms import LoginForm, RegisterForm
from .models import Author
from .pagination import InvalidCursor, fetch_page

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to do that."
login_manager.login_message_category = "info"

BAD_LOGIN = "Wrong email or password."  # the same for both, so emails cannot be probed


@login_manager.user_loader
def load_author(author_id: str) -> Author | None:
    return db.session.get(Author, int(author_id)) if author_id.isdigit() else None


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
            login_user(author)
            flash(f"Welcome, {author.name}!", "success")
            return redirect(url_for("pages.index"))
    return render_template("auth/register.html", form=form), 200 if request.method == "GET" else 422


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.lower()
        wait = throttle.locked_for(email)
        if wait is not None:
            current_app.logger.warning("login refused: too many failures for one address")
            minutes = ceil(wait.total_seconds() / 60)
            form.form_errors.append(f"Too many wrong passwords for this address. Try again in {minutes} "
                                    f"minute{'s' if minutes != 1 else ''}.")
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(minutes * 60)}
        author = db.session.scalar(sa.select(Author).where(Author.email == email))
        if author is not None and author.check_password(form.password.data):
            throttle.forget(email)
            login_user(author, remember=form.remember.data)
            return redirect(safe_next(request.args.get("next")) or url_for("pages.index"))
        throttle.record_failure(email)
        current_app.logger.info("failed login")
        form.form_errors.append(BAD_LOGIN)
    return render_template("auth/login.html", form=form), 200 if request.method == "GET" else 422


@bp.post("/logout")
@login_required
def logout():
    # POST only, so the CSRF check (CSRFProtect, on every POST) covers it.
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("pages.index"))


@bp.get("/authors/<int:author_id>")
@read_only
def profile(author_id: int):
    author = db.get_or_404(Author, author_id)
    try:
        page = fetch_page(current_app.config["POSTS_PER_PAGE"], before=request.args.get("before"),
                          after=request.args.get("after"), author_id=author.id)
    except InvalidCursor:
        abort(400, "That page link is broken; start again from the first page.")
    return render_template("auth/profile.html", author=author, page=page)
