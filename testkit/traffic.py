"""A steady load of reads and writes through one URL, from several clients, while something (a deploy)
happens; then what users would have noticed: failed requests and lost writes.

    with Traffic(fleet.url, clients=4) as traffic:
        fleet.deploy(...)
    report = traffic.report
    report.failures            # anything but 2xx/3xx, resets, timeouts: [(seconds, what, status or error)]
    report.lost(post_titles(fleet.url))   # posts answered with a redirect that are not there afterwards
    report.versions            # what /version answered, in order
    report.per_second()        # [(second, answered, failed)] for a timeline

Each client is a visitor with its own account and cookies: pages, the JSON API, /version, a new post each
round, a log out and log in every tenth round. No retries (as behind an ALB) and no redirects followed: a
redirect is an answer. The load stops by itself after `limit` seconds whatever happens.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass, field

import requests

# Seconds a request may take before it counts as failed: half the ALB's idle timeout, as a login (a password
# hash) on a machine building images beside the load can take several seconds.
TIMEOUT = 30
TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
ACCOUNTS: dict[tuple[str, int], str] = {}  # (site, client number) -> the email it registered


@dataclass
class Answer:
    at: float  # seconds since the load started
    what: str
    status: int | None
    seconds: float = 0.0
    error: str = ""  # the exception, or the start of a failed answer's body (whose 502: the balancer's, nginx's)

    @property
    def failed(self) -> bool:
        return self.status is None or not 200 <= self.status < 400


@dataclass
class Report:
    answers: list[Answer] = field(default_factory=list)
    posted: list[str] = field(default_factory=list)  # titles of posts answered with a redirect
    versions: list[str] = field(default_factory=list)
    started: float = 0.0  # time.time() when the load started

    @property
    def failures(self) -> list[Answer]:
        return [answer for answer in self.answers if answer.failed]

    @property
    def slowest(self) -> float:
        return max((answer.seconds for answer in self.answers), default=0.0)

    def lost(self, present: set[str]) -> list[str]:
        return [title for title in self.posted if title not in present]

    def per_second(self) -> list[tuple[int, int, int]]:
        seconds = int(max((answer.at for answer in self.answers), default=0)) + 1
        answered, failed = [0] * seconds, [0] * seconds
        for answer in self.answers:
            (failed if answer.failed else answered)[int(answer.at)] += 1
        return [(second, answered[second], failed[second]) for second in range(seconds)]


def failure_text(response: requests.Response) -> str:
    """What a failed answer says: its page's message when it has one, else the start of its body."""
    text = response.text
    message = re.search(r"<main[^>]*>(.*?)</main>", text, re.S) or re.search(r"<h1>(.*?)</h1>", text, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", message[1] if message else text)).strip()[:200]


class Client:
    """One visitor in a loop of reads and writes, recording every answer."""

    def __init__(self, traffic: Traffic, number: int):
        self.traffic, self.number = traffic, number
        self.session = requests.Session()
        # One account per client number and site, kept across loads: registrations are throttled per network.
        self.known = (traffic.url, number) in ACCOUNTS
        self.email = ACCOUNTS.setdefault((traffic.url, number), f"load-{number}-{uuid.uuid4().hex[:8]}@example.com")
        self.password = "correct horse battery staple"

    def call(self, what: str, method: str, path: str, **kwargs) -> requests.Response | None:
        started = time.monotonic()
        at = started - self.traffic.monotonic_start
        try:
            response = self.session.request(method, self.traffic.url + path, timeout=TIMEOUT, allow_redirects=False,
                                            **kwargs)
        except requests.RequestException as error:
            self.traffic.record(Answer(at, what, None, time.monotonic() - started, type(error).__name__))
            return None
        failed = not 200 <= response.status_code < 400
        self.traffic.record(Answer(at, what, response.status_code, time.monotonic() - started,
                                   failure_text(response) if failed else ""))
        return response

    def form(self, what: str, path: str, data: dict) -> requests.Response | None:
        page = self.call(what + " form", "GET", path)
        match = TOKEN.search(page.text) if page is not None and page.ok else None
        if match is None:
            return None
        return self.call(what, "POST", path, data={"csrf_token": match[1], **data})

    def log_in(self) -> None:
        self.form("login", "/login", {"email": self.email, "password": self.password})

    def run(self) -> None:
        if self.known:
            self.log_in()
        else:
            self.form("register", "/register", {"name": f"Load {self.number}", "email": self.email,
                                                "password": self.password, "confirm": self.password})
        round_number = 0
        while not self.traffic.stopping.is_set():
            round_number += 1
            self.call("page", "GET", "/")
            self.call("api", "GET", "/api/posts?limit=5")
            answer = self.call("version", "GET", "/version")
            if answer is not None and answer.ok:
                self.traffic.saw(answer.json().get("version", ""))
            title = f"load {self.number}-{round_number} {uuid.uuid4().hex[:6]}"
            posted = self.form("post", "/posts/new", {"title": title, "content": "Written under load."})
            if posted is not None and 300 <= posted.status_code < 400:
                self.traffic.wrote(title)
            if round_number % 10 == 0:
                page = self.call("logout form", "GET", "/")
                match = TOKEN.search(page.text) if page is not None and page.ok else None
                if match:
                    self.call("logout", "POST", "/logout", data={"csrf_token": match[1]})
                self.log_in()
            self.traffic.stopping.wait(self.traffic.pause)


class Traffic:
    def __init__(self, url: str, clients: int = 4, pause: float = 0.05, limit: float = 1200):
        self.url, self.pause, self.limit = url.rstrip("/"), pause, limit
        self.report = Report()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.clients = [Client(self, number) for number in range(1, clients + 1)]
        self.threads: list[threading.Thread] = []
        self.monotonic_start = 0.0
        self.timer: threading.Timer | None = None

    def record(self, answer: Answer) -> None:
        with self.lock:
            self.report.answers.append(answer)

    def wrote(self, title: str) -> None:
        with self.lock:
            self.report.posted.append(title)

    def saw(self, version: str) -> None:
        with self.lock:
            self.report.versions.append(version)

    def now(self) -> float:
        """Seconds since the load started, on the answers' clock."""
        return time.monotonic() - self.monotonic_start

    def start(self) -> Traffic:
        self.monotonic_start, self.report.started = time.monotonic(), time.time()
        self.threads = [threading.Thread(target=client.run, name=f"load-{client.number}", daemon=True)
                        for client in self.clients]
        for thread in self.threads:
            thread.start()
        self.timer = threading.Timer(self.limit, self.stopping.set)
        self.timer.daemon = True
        self.timer.start()
        return self

    def stop(self) -> Report:
        self.stopping.set()
        self.timer.cancel()
        for thread in self.threads:
            thread.join(TIMEOUT * 3)
        return self.report

    def __enter__(self) -> Traffic:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def post_titles(url: str) -> set[str]:
    """Every post's title, through the JSON API's cursor pages."""
    titles: set[str] = set()
    cursor = None
    while True:
        page = requests.get(url.rstrip("/") + "/api/posts", params={"limit": 100, **({"cursor": cursor} if cursor
                                                                                    else {})}, timeout=TIMEOUT)
        page.raise_for_status()
        body = page.json()
        titles.update(post["title"] for post in body["posts"])
        cursor = body.get("next_cursor")
        if not cursor:
            return titles
