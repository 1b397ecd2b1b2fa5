"""Posts: write, read by slug, edit and delete your own."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from . import reads
from .extensions import db
from .forms import PostForm
from .models import SLUG_MAX, Post, utcnow
from .slugs import first_free, slugify

bp = Blueprint("posts", __name__, url_prefix="/posts")

SLUG_SHAPE = re.compile(rf"[a-z0-9-]{{1,{SLUG_MAX}}}")
_SLUG_ATTEMPTS = 5  # each retry follows a concurrent insert that took our slug


def post_by_slug(slug: str, session: Session) -> Post:
    """The post at `slug`, with its author, from `session`: the read path's, or db.session to change it."""
    # Slugs are made by slugify(): anything else cannot exist, and NUL would upset PostgreSQL.
    post = None
    if SLUG_SHAPE.fullmatch(slug):
        post = session.scalar(sa.select(Post).where(Post.slug == slug).options(joinedload(Post.author)))
    if post is None:
        abort(404, "There is no post at this address.")
    return post


def own_post(slug: str) -> Post:
    post = post_by_slug(slug, db.session)
    if post.author_id != current_user.id:
        abort(403, "Only the author of a post can change it.")
    return post


def taken_slugs(base: str) -> set[str]:
    like = base.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "-%"
    return set(db.session.scalars(sa.select(Post.slug).where(
        sa.or_(Post.slug == base, Post.slug.like(like, escape="\\")))))


def insert_with_unique_slug(post: Post) -> None:
    base = slugify(post.title)
    for _ in range(_SLUG_ATTEMPTS):
        post.slug = first_free(base, taken_slugs(base))
        try:
            with db.session.begin_nested():
                db.session.add(post)
            db.session.commit()
            return
        except IntegrityError:
            continue  # the savepoint rollback leaves the session usable
    abort(409, "Could not find a free address for this title; please try again.")


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create():
    form = PostForm()
    if form.validate_on_submit():
        now = utcnow()  # one moment for both, so a new post does not show as edited
        post = Post(title=form.title.data, content=form.content.data, author_id=current_user.id,
                    created_at=now, updated_at=now)
        insert_with_unique_slug(post)
        flash("Your post is published.", "success")
        return redirect(url_for("posts.show", slug=post.slug))
    return render_template("posts/form.html", form=form, post=None), 200 if request.method == "GET" else 422


@bp.get("/<slug>")
def show(slug: str):
    return render_template("posts/show.html", post=post_by_slug(slug, reads.session()))


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@login_required
def edit(slug: str):
    post = own_post(slug)
    form = PostForm(obj=post)
    if form.validate_on_submit():
        # The slug stays: links to the post keep working after a retitle.
        post.title, post.content = form.title.data, form.content.data
        db.session.commit()
        flash("Your changes are saved.", "success")
        return redirect(url_for("posts.show", slug=post.slug))
    return render_template("posts/form.html", form=form, post=post), 200 if request.method == "GET" else 422


@bp.post("/<slug>/delete")
@login_required
def delete(slug: str):
    post = own_post(slug)
    db.session.delete(post)
    db.session.commit()
    flash("The post is deleted.", "info")
    return redirect(url_for("pages.index"))
