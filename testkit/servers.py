"""Running the real gunicorn with the project's gunicorn.conf.py, for tests."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from testkit.ports import free_port

FORM = "application/x-www-form-urlencoded"


def gunicorn_setting(name: str, **environ: str):
    """A setting as gunicorn.conf.py computes it in a process with this environment (PORT unset unless given)."""
    root = Path(__file__).resolve().parent.parent
    env = {key: value for key, value in os.environ.items() if key != "PORT"}
    env.update(APP_ENV="test", **environ)
    program = f"import runpy; print(repr(runpy.run_path('gunicorn.conf.py')[{name!r}]))"
    shown = subprocess.run([sys.executable, "-c", program], cwd=root, env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
    return ast.literal_eval(shown)


def wait_until(predicate, timeout: float, what: str, ignoring: tuple = (requests.ConnectionError, requests.Timeout)):
    """What `predicate` returns once it is true; an error in `ignoring` means not yet (by default: not up
    yet, or a first request slowed by a busy machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := predicate():
                return result
        except ignoring:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@contextmanager
def gunicorn(app_dir: Path, log_path: Path | None = None, **environ: str):
    """gunicorn serving `app_dir` (a tree with board/ and gunicorn.conf.py) on a free port: yields (url, process).

    Its output goes to `log_path` (default: gunicorn.log in `app_dir`); an empty variable is left unset.
    """
    port = free_port()
    env = {"PATH": os.environ["PATH"], "APP_ENV": "development", "PORT": str(port), "WEB_CONCURRENCY": "1",
           "DATABASE_URL": f"sqlite:///{app_dir / 'board.sqlite'}", **environ}
    env = {key: value for key, value in env.items() if value != ""}
    log = open(log_path or app_dir / "gunicorn.log", "w+")  # noqa: SIM115 (read back on failure)
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py",
                                "board:create_app()"], cwd=app_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(base + "/healthz", timeout=5).ok, 60, "gunicorn to serve /healthz")
        yield base, process
    except AssertionError:
        log.seek(0)
        print(log.read())
        raise
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


class TrafficDuringStop:
    """Visitors looping on a page plus slow uploads, while something stops the server.

    `uploads` get the status of each slow POST (in flight all along, so it must be
    answered in full); `visits` get "ok", "not taken" (a connection the server never
    took up: refused, or reset in the listen backlog, safe to retry) or "cut: ...".
    """

    def __init__(self, base: str, page: str, visitors: int = 4, uploads: int = 3, upload_seconds: float = 2.0):
        self.base, self.page, self.upload_seconds = base, page, upload_seconds
        self.visits: list[str] = []
        self.uploads: list[int | str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._visit) for _ in range(visitors)]
        self._threads += [threading.Thread(target=self._upload) for _ in range(uploads)]

    def _slow_body(self, chunks: int = 10):
        for _ in range(chunks):
            time.sleep(self.upload_seconds / chunks)
            yield b"title=slow&"

    def _upload(self):
        try:
            # A form without a CSRF token, read whole: a complete 400 page is the answer, which is all this needs.
            self.uploads.append(requests.post(self.base + "/login", data=self._slow_body(), timeout=30,
                                              headers={"Content-Type": FORM}).status_code)
        except requests.RequestException as error:
            self.uploads.append(f"lost: {error}")

    def _visit(self):
        while not self._stop.is_set():
            try:
                response = requests.get(self.base + self.page, timeout=10)
                self.visits.append("ok" if response.status_code == 200 and "</html>" in response.text else "bad")
            except requests.ConnectionError as error:
                text = str(error)
                self.visits.append("not taken" if "refused" in text or "aborted" in text else f"cut: {error}")
                return

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        wait_until(lambda: len(self.visits) > 20, 20, "some traffic")
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def problems(self) -> list[str]:
        return [visit for visit in self.visits if visit not in ("ok", "not taken")]
