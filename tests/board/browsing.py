"""What a person does in a browser, through the test client, CSRF tokens included."""

from __future__ import annotations

import re

from board.extensions import db
from board.models import Author, Post

PASSWORD = "correct horse battery"


def csrf_token(client, url: str = "/login") -> str:
    page = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert match, f"no CSRF token on {url}"
    return match[1]


def submit(client, url: str, data: dict, form_page: str | None = None, **kwargs):
    """POST a form the way its page would, with the token that page carries."""
    return client.post(url, data={"csrf_token": csrf_token(client, form_page or url), **data}, **kwargs)


def register(client, email="ada@example.com", name=None, password=PASSWORD, **kwargs):
    """Register; the name is the email's local part ("Ada"), as no two authors may have names alike."""
    name = email.split("@")[0].capitalize() if name is None else name
    return submit(client, "/register", {"name": name, "email": email, "password": password, "confirm": password},
                  **kwargs)


def login(client, email="ada@example.com", password=PASSWORD, remember=False, next_url=None):
    url = "/login" + (f"?next={next_url}" if next_url else "")
    data = {"email": email, "password": password}
    if remember:
        data["remember"] = "y"
    return submit(client, url, data, form_page="/login")


def logout(client):
    return submit(client, "/logout", {}, form_page="/")


def publish(client, title="Hello", content="First post.", **kwargs):
    return submit(client, "/posts/new", {"title": title, "content": content}, **kwargs)


def count(app, model=Post) -> int:
    with app.app_context():
        return db.session.query(model).count()


def posts(app) -> list[Post]:
    with app.app_context():
        return db.session.query(Post).order_by(Post.id).all()


def author(app, email: str) -> Author | None:
    with app.app_context():
        return db.session.query(Author).filter_by(email=email).one_or_none()
