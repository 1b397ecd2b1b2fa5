"""The real gunicorn with gunicorn.conf.py: serves, and reloads only when asked to.

Each test runs a copy of the app in a temp folder, so edits never touch the
work tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from testkit.ports import free_port
from testkit.servers import gunicorn, wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def copy_app(destination: Path) -> Path:
    for folder in ("board", "migrations"):
        shutil.copytree(ROOT / folder, destination / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "gunicorn.conf.py", destination)
    return destination


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def test_gunicorn_serves_healthz_with_the_project_config(tmp_path):
    with gunicorn(copy_app(tmp_path)) as (base, _):
        response = requests.get(base + "/healthz", timeout=5)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def test_gunicorn_starts_without_errors_where_its_user_cannot_write_home(tmp_path):
    # As in the image, whose user's home (/app) is not its own: gunicorn >= 25 made a control socket there.
    (tmp_path / "not-a-directory").touch()
    log = tmp_path / "gunicorn.log"
    with gunicorn(copy_app(tmp_path / "app"), log_path=log, HOME=str(tmp_path / "not-a-directory" / "home")):
        pass
    assert "[ERROR]" not in log.read_text(), log.read_text()


def test_auto_reload_serves_an_edited_python_file_without_restart(tmp_path):
    app_dir = copy_app(tmp_path)
    with gunicorn(app_dir, AUTO_RELOAD="1") as (base, process):
        edit(app_dir / "board" / "health.py", 'jsonify(status="ok")', 'jsonify(status="reloaded")')
        wait_until(lambda: requests.get(base + "/healthz", timeout=2).json()["status"] == "reloaded",
                   15, "the edited /healthz")
        assert process.poll() is None


def test_auto_reload_false_keeps_serving_the_code_it_started_with(tmp_path):
    app_dir = copy_app(tmp_path)
    with gunicorn(app_dir, AUTO_RELOAD="false") as (base, _):
        edit(app_dir / "board" / "health.py", 'jsonify(status="ok")', 'jsonify(status="reloaded")')
        time.sleep(3)  # reload, when on, happens well within this (see the test above)
        assert requests.get(base + "/healthz", timeout=2).json()["status"] == "ok"


def test_auto_reload_serves_an_edited_template_without_restart(tmp_path):
    app_dir = copy_app(tmp_path)
    with gunicorn(app_dir, AUTO_RELOAD="1") as (base, process):
        assert "About board" in requests.get(base + "/about", timeout=5).text
        edit(app_dir / "board" / "templates" / "about.html", "About board", "About this edited board")
        wait_until(lambda: "About this edited board" in requests.get(base + "/about", timeout=2).text,
                   15, "the edited about page")
        assert process.poll() is None


def test_access_log_carries_the_request_id(tmp_path):
    app_dir = copy_app(tmp_path)
    with gunicorn(app_dir) as (base, _):
        requests.get(base + "/about", headers={"X-Request-ID": "trace-me-42"}, timeout=5)
    log = (app_dir / "gunicorn.log").read_text()
    assert '"GET /about HTTP/1.1" 200' in log and "rid=trace-me-42" in log


def test_hsts_only_when_the_proxy_in_front_says_the_request_came_over_https(tmp_path):
    with gunicorn(copy_app(tmp_path)) as (base, _):
        secure = requests.get(base + "/about", headers={"X-Forwarded-Proto": "https"}, timeout=5)
        plain = requests.get(base + "/about", timeout=5)
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in plain.headers


def test_a_configuration_error_stops_gunicorn_at_once_with_one_line(tmp_path):
    app_dir = copy_app(tmp_path)
    env = {"PATH": os.environ["PATH"], "APP_ENV": "production", "PORT": str(free_port())}
    result = subprocess.run([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "board:create_app()"],
                            cwd=app_dir, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith("board: configuration error: SECRET_KEY is not set")
    assert "Traceback" not in result.stderr
