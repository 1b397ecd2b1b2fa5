"""The board app plus one page rendered from memory, to show the database's share of a page."""

from __future__ import annotations

from flask import render_template

from board import create_app
from board.pagination import fetch_page


def memory_app():
    app = create_app()
    with app.test_request_context("/"):
        page = fetch_page(app.config["POSTS_PER_PAGE"])  # plain rows: rendering them touches no database

    @app.get("/bench/index-from-memory")
    def index_from_memory():
        return render_template("index.html", page=page)

    return app
