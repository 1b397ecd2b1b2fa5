"""The board app plus one page rendered from memory, to show the database's share of a page."""

from __future__ import annotations

from flask import render_template

from board import create_app
from board.extensions import db
from board.pagination import fetch_page, newest_first


def memory_app():
    app = create_app()
    with app.app_context():
        page = fetch_page(newest_first(), app.config["POSTS_PER_PAGE"])
        for post in page.posts:
            _ = post.author.name
        db.session.expunge_all()  # detached copies: rendering them touches no database

    @app.get("/bench/index-from-memory")
    def index_from_memory():
        return render_template("index.html", page=page)

    return app
