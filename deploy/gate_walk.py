"""A visit to the board over HTTP as a person makes it: register, post, log out and in, page, read the API.

Forms are read from the served pages (their fields and CSRF token), not
assumed, so the walk fits whichever version serves. Standard library only:
the deploy tool's dependencies stay its own.
"""

from __future__ import annotations

import http.cookiejar
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser

TIMEOUT = 30  # seconds for one request; a first request may build the app's caches


class WalkFailed(Exception):
    """What the visitor saw go wrong, in one line."""


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)


class Page(HTMLParser):
    """The forms and links of one page."""

    def __init__(self, html: str):
        super().__init__()
        self.forms: list[Form] = []
        self.links: dict[str, str] = {}  # rel or text: href
        self._text_for: str | None = None
        self._href: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        if tag == "form" and attrs.get("method", "get").lower() == "post":
            self.forms.append(Form(attrs.get("action", "")))
        elif tag in ("input", "textarea") and self.forms and attrs.get("name"):
            if attrs.get("type") not in ("checkbox", "submit"):
                self.forms[-1].fields[attrs["name"]] = attrs.get("value", "")
        elif tag == "a" and attrs.get("href"):
            self._href = attrs["href"]
            if attrs.get("rel"):
                self.links[attrs["rel"]] = attrs["href"]

    def handle_data(self, data):
        if self._href and data.strip():
            self.links.setdefault(data.strip(), self._href)

    def handle_endtag(self, tag):
        if tag == "a":
            self._href = None

    def form(self, action: str | None = None) -> Form:
        """The form posting to `action`; by default the page's own, which posts back to the page (the
        header's logout form posts elsewhere)."""
        found = [form for form in self.forms if form.action == action] if action else \
            [form for form in self.forms if not form.action.endswith("/logout")]
        if not found:
            raise WalkFailed(f"the page has no form{' for ' + action if action else ''}")
        return found[-1]


class Visitor:
    def __init__(self, base: str):
        self.base = base.rstrip("/")
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, path: str, data: dict | None = None) -> tuple[str, str]:
        """(final URL, body) of a 2xx answer after redirects; anything else fails the walk."""
        url = urllib.parse.urljoin(self.base + "/", path)
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        method = "POST" if body is not None else "GET"
        try:
            request = urllib.request.Request(url, body, method=method)  # noqa: S310 (http to the gate's server)
            with self.opener.open(request, timeout=TIMEOUT) as response:
                return response.url, response.read().decode()
        except urllib.error.HTTPError as error:
            raise WalkFailed(f"{method} {urllib.parse.urlsplit(url).path} answered {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            raise WalkFailed(f"{method} {urllib.parse.urlsplit(url).path} failed: {error}") from None

    def submit(self, path: str, values: dict[str, str], form_action: str | None = None) -> tuple[str, str]:
        """Fill the page's form as a person would (its hidden fields as served) and send it; a form that
        worked redirects elsewhere, one that comes back was refused."""
        _, html = self.request(path)
        form = Page(html).form(form_action)
        filled = {name: next((value for key, value in values.items() if key in name), served)
                  for name, served in form.fields.items()}
        target = form.action or path
        url, answer = self.request(target, filled)
        if urllib.parse.urlsplit(url).path == urllib.parse.urlsplit(target).path:
            raise WalkFailed(f"POST {target} came back with the form: refused")
        return url, answer

    def json(self, path: str) -> dict:
        _, body = self.request(path)
        try:
            return json.loads(body)
        except ValueError:
            raise WalkFailed(f"GET {path} is not JSON") from None


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise WalkFailed(what)


class Walk:
    """One visitor's account and posts: written before the schema changes, read and added to after it."""

    def __init__(self, base: str):
        self.visitor = Visitor(base)
        self.tag = secrets.token_hex(4)
        self.email, self.password = f"gate-{self.tag}@example.com", f"gate-{secrets.token_hex(8)}"
        self.slugs: list[str] = []
        self.steps: list[str] = []

    def step(self, name: str, action):
        try:
            result = action()
        except WalkFailed as failure:
            raise WalkFailed(f"{name}: {failure}") from None
        self.steps.append(name)
        return result

    def title(self, number: int) -> str:
        return f"Gate {self.tag} post {number}"

    def post(self, number: int) -> None:
        url, html = self.step(f"post {number}", lambda: self.visitor.submit(
            "/posts/new", {"title": self.title(number), "content": f"Written by the release gate ({number})."}))
        expect(self.title(number) in html, f"post {number}: the new post's page does not show its title")
        self.slugs.append(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])

    def write(self) -> None:
        """Register and post twice."""
        self.step("register", lambda: self.visitor.submit("/register", {
            "name": f"Gate {self.tag}", "email": self.email, "password": self.password, "confirm": self.password}))
        self.post(1)
        self.post(2)

    def read_and_write(self) -> None:
        """Log out and in, post again, page back to the first post, and read them through the API."""
        self.step("log out", lambda: self.visitor.submit("/", {}, form_action="/logout"))
        self.step("log in", lambda: self.visitor.submit("/login", {"email": self.email, "password": self.password}))
        self.post(3)
        _, first = self.step("first page", lambda: self.visitor.request("/"))
        older = Page(first).links.get("next")
        expect(older is not None, "first page: no link to older posts")
        _, second = self.step("older page", lambda: self.visitor.request(older))
        expect(self.title(1) in second, "older page: the first post is missing")
        listing = self.step("API list", lambda: self.visitor.json("/api/posts?limit=2"))
        expect(len(listing.get("posts", [])) == 2 and bool(listing.get("next_cursor")), "API list: no page of two")
        self.step("API next page", lambda: self.visitor.json(f"/api/posts?limit=2&cursor={listing['next_cursor']}"))
        shown = self.step("API post", lambda: self.visitor.json(f"/api/posts/{self.slugs[0]}"))
        expect(shown.get("title") == self.title(1), "API post: not the post written before")
