"""Home (the latest posts, paged) and about."""

from flask import Blueprint, abort, current_app, render_template, request

from .pagination import InvalidCursor, fetch_page

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    try:
        page = fetch_page(current_app.config["POSTS_PER_PAGE"],
                          before=request.args.get("before"), after=request.args.get("after"))
    except InvalidCursor:
        abort(400, "That page link is broken; start again from the first page.")
    return render_template("index.html", page=page)


@bp.get("/about")
def about():
    return render_template("about.html")
