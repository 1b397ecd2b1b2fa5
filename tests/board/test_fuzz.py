"""Every route, every form field and query parameter, with whatever a client can send (Hypothesis).

Each example is one request, logged in as an author with a valid CSRF token
most of the time (so validation, not the CSRF check, meets the input), with
arbitrary text, numbers, files, raw bytes and encodings. The answer is never a
5xx, and the stored authors and posts change only when the answer is a
redirect (every successful write here answers with one). Derandomized with a
fixed budget, so CI runs the same examples every time.
"""

from __future__ import annotations

import base64
import io
import json
import re
from urllib.parse import quote

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wtforms.fields.core import UnboundField

from board import forms, sessions
from board.extensions import db
from board.models import Author, Post
from tests.board.browsing import PASSWORD, publish, register

# Examples for each route, on each database: the whole test takes about 20 s on each.
EXAMPLES = {"form": 30, "other": 12}
QUERY_PARAMETERS = ("before", "after", "cursor", "limit", "next")
# How a body is sent, and with which CSRF token: drawn as one, so every pair comes up as often.
SENDING = [(encoding, csrf) for csrf in ("valid", "missing", "garbled")
           for encoding in ("multipart", "form", "raw", "json", "none")]
FORMS = {"auth.register": forms.RegisterForm, "auth.login": forms.LoginForm,
         "auth.change_password": forms.PasswordChangeForm, "posts.create": forms.PostForm,
         "posts.edit": forms.PostForm}

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)  # anything UTF-8 can carry
numbers = st.one_of(st.integers(), st.integers(min_value=2**31 - 2, max_value=2**70), st.floats()).map(str)
digit_like = st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=6)  # "²", "٣", "①"
weird = st.sampled_from(["", " ", "\x00", "²", "٣", "İ" * 128, "\u200b", "\u202e", "a" * 5000, "9" * 5000,
                         "%FF", "../..", "//evil.example", "ada@example.com", PASSWORD, "password"])
value = st.one_of(text, numbers, digit_like, weird)
# Field names a browser would never send: a line break cannot be said in a multipart part's header.
names = st.one_of(st.sampled_from(["\r", "\n", '"', "", "csrf_token\r", "x\x00"]), text)
files = st.tuples(st.binary(max_size=64), text).map(lambda part: (io.BytesIO(part[0]), part[1] or "f"))
cursor_plain = st.from_regex(r"\d{8}T\d{12}\.\d{1,18}", fullmatch=True)
cursor = st.one_of(value, cursor_plain.map(lambda plain: base64.urlsafe_b64encode(plain.encode()).decode()))


def form_fields(endpoint: str) -> list[str]:
    form = FORMS.get(endpoint)
    return [name for name, field in vars(form).items() if isinstance(field, UnboundField)] if form else []


def path_for(rule, values: dict) -> str:
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<[^>]*\b{name}>", quote(values[name], safe=""), path)
    return path


@st.composite
def requests_for(draw, rule, slugs):
    method = draw(st.sampled_from(sorted(rule.methods - {"OPTIONS"})))
    arguments = {name: draw(st.one_of(st.sampled_from(slugs), value)) for name in sorted(rule.arguments)}
    query = {name: draw(st.one_of(value, cursor)) for name in QUERY_PARAMETERS if draw(st.booleans())}
    query.update(draw(st.dictionaries(names, value, max_size=2)))
    fields = {name: draw(st.one_of(value, files)) for name in form_fields(rule.endpoint)
              if draw(st.integers(0, 3))}  # mostly present, sometimes missing
    fields.update(draw(st.dictionaries(names, value, max_size=2)))
    encoding, csrf = draw(st.sampled_from(SENDING))
    return {"method": method, "path": path_for(rule, arguments), "query": query, "fields": fields,
            "encoding": encoding, "raw": draw(st.binary(max_size=200)), "csrf": csrf,
            "logged_in": draw(st.integers(0, 3)) > 0}


def stored(app) -> tuple:
    """What authors and posts hold (not session tokens or throttle counts, which logins change)."""
    with app.app_context():
        authors = db.session.execute(sa.select(Author.id, Author.name, Author.email, Author.password_hash)).all()
        posts = db.session.execute(sa.select(Post.id, Post.title, Post.content, Post.slug)).all()
        db.session.remove()
    return sorted(authors), sorted(posts)


def session_token(app) -> str:
    """A new login of Ada's (logout or a password change may have ended the last one)."""
    with app.test_request_context():
        token = sessions.create(db.session.scalar(sa.select(Author).where(Author.email == "ada@example.com")),
                                remember=False)
        db.session.commit()
        db.session.remove()
    return token


def send(app, client, example: dict):
    if example["logged_in"]:
        # As a browser holding a session of Ada's.
        with client.session_transaction() as session:
            session["_user_id"], session["_fresh"] = session_token(app), True
    else:
        client.delete_cookie("session")
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"',
                      client.get("/login").get_data(as_text=True))[1]
    fields = {key: item for key, item in example["fields"].items() if key != "csrf_token"}
    if example["csrf"] != "missing":
        fields["csrf_token"] = token if example["csrf"] == "valid" else token[::-1]
    kwargs: dict = {"query_string": example["query"]}
    encoding = example["encoding"]
    if example["method"] == "GET":
        pass
    elif encoding == "json":
        kwargs["data"] = json.dumps({key: item if isinstance(item, str) else "file" for key, item in fields.items()})
        kwargs["content_type"] = "application/json"
    elif encoding == "raw":
        kwargs["data"] = example["raw"] + b"&csrf_token=" + token.encode()
        kwargs["content_type"] = "application/x-www-form-urlencoded"
    elif encoding in ("form", "multipart"):
        data = {key: item for key, item in fields.items() if encoding == "multipart" or isinstance(item, str)}
        kwargs["data"] = data
        kwargs["content_type"] = "multipart/form-data" if encoding == "multipart" else None
    return client.open(example["path"], method=example["method"], **kwargs)


def test_no_input_reaches_a_500_and_nothing_is_stored_unless_the_answer_says_so(app):
    setup = app.test_client()
    register(setup)
    publish(setup, title="Hello")
    slugs = ["hello", "nothing-here"]
    client = app.test_client()

    def check(example):
        before = stored(app)
        response = send(app, client, example)
        assert response.status_code < 500, (example, response.get_data(as_text=True)[:300])
        if stored(app) != before:
            assert response.status_code in (302, 303), (example, response.status_code)

    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        budget = EXAMPLES["form" if rule.endpoint in FORMS or "POST" in rule.methods else "other"]
        run = settings(max_examples=budget, derandomize=True, database=None, deadline=None,
                       suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])(
            given(requests_for(rule, slugs))(check))
        run()
