"""Read-only JSON API: posts newest first with the same cursors as the pages."""

from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, request

from . import hosts, reads
from .models import Post
from .pagination import InvalidCursor, Whole, fetch_page
from .posts import post_by_slug

bp = Blueprint("api", __name__, url_prefix="/api")

LIMIT_MAX = 100
LIMIT_SHAPE = re.compile(r"[0-9]{1,3}")


def iso(moment) -> str:
    return moment.isoformat(timespec="microseconds") + "Z"


def as_json(post: Whole | Post) -> dict:
    return {
        "slug": post.slug,
        "title": post.title,
        "content": post.content,
        "author": {"id": post.author_id, "name": post.author_name},
        "created_at": iso(post.created_at),
        "updated_at": iso(post.updated_at),
        "url": hosts.link("posts.show", slug=post.slug),
    }


def requested_limit() -> int:
    text = request.args.get("limit")
    if text is None:
        return current_app.config["POSTS_PER_PAGE"]
    # A few ASCII digits: str.isdigit() also says yes to "²", which int() refuses, and int() refuses
    # thousands of digits.
    if not LIMIT_SHAPE.fullmatch(text) or not 1 <= int(text) <= LIMIT_MAX:
        abort(400, f"limit must be a whole number from 1 to {LIMIT_MAX}")
    return int(text)


@bp.get("/posts")
def list_posts():
    limit = requested_limit()
    try:
        page = fetch_page(limit, before=request.args.get("cursor"), whole=True)
    except InvalidCursor:
        abort(400, "cursor is not one this API returned")
    return {"posts": [as_json(post) for post in page.posts], "next_cursor": page.older}


@bp.get("/posts/<slug>")
def show_post(slug: str):
    return as_json(post_by_slug(slug, reads.session()))
