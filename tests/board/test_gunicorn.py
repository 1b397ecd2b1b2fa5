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
    for folder in ("board", "migrations", "static"):
        shutil.copytree(ROOT / folder, destination / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "gunicorn.conf.py", destination)
    return destination


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def edit_until(path: Path, old: str, new: str, seen, what: str, timeout: float = 15) -> None:
    """Edit, then save the same text again every second until `seen()`. A worker's reloader adds its watches
    in a thread of its own once the worker runs, so under load a save can land before it watches (a gunicorn
    race, not what these tests check); each new save is an event a watching reloader cannot miss."""
    edit(path, old, new)
    text, last = path.read_text(), [time.monotonic()]

    def saved_and_seen() -> bool:
        if seen():
            return True
        if time.monotonic() - last[0] >= 1:
            path.write_text(text)
            last[0] = time.monotonic()
        return False

    wait_until(saved_and_seen, timeout, what)


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


def workers(master: subprocess.Popen) -> set[int]:
    return {int(pid) for pid in Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()}


def booted_workers(master: subprocess.Popen, count: int) -> set[int]:
    """The workers, once there are `count` of them with their reloader thread running (an edit made before
    a worker's reloader watches the files is not seen by that worker)."""
    def ready():
        pids = workers(master)
        return len(pids) == count and all(len(list(Path(f"/proc/{pid}/task").iterdir())) > 1 for pid in pids)

    wait_until(ready, 15, f"{count} booted workers")
    time.sleep(0.5)  # the reloader thread's first act is to add its watches
    return workers(master)


def test_auto_reload_serves_an_edited_python_file_from_new_workers(tmp_path):
    app_dir = copy_app(tmp_path / "app")  # its log outside: gunicorn watches the config file's folder
    with gunicorn(app_dir, tmp_path / "gunicorn.log", AUTO_RELOAD="1", WEB_CONCURRENCY="2") as (base, process):
        before = booted_workers(process, 2)
        edit_until(app_dir / "board" / "health.py", 'jsonify(status="ok")', 'jsonify(status="reloaded")',
                   lambda: requests.get(base + "/healthz", timeout=2).json()["status"] == "reloaded",
                   "the edited /healthz")
        assert process.poll() is None
        wait_until(lambda: len(workers(process)) == 2 and not workers(process) & before, 15,
                   "both workers replaced")


def test_once_a_worker_sees_an_edit_it_serves_no_more_requests_on_the_old_code(tmp_path):
    # gunicorn.conf.py in development: the stopping worker is woken at once (else it would take the next new
    # connection, up to a second later, on the code it loaded), and keeps no connection open (else a browser's
    # next request on its kept-alive connection would be answered by it).
    app_dir = copy_app(tmp_path / "app")
    log = tmp_path / "gunicorn.log"  # outside the app: gunicorn's reloader watches the config file's folder
    with gunicorn(app_dir, log, AUTO_RELOAD="1", WEB_CONCURRENCY="1") as (base, _):
        browser = requests.Session()  # keeps its connection open when the server allows it
        assert browser.get(base + "/healthz", timeout=5).json()["status"] == "ok"
        edit_until(app_dir / "board" / "health.py", 'jsonify(status="ok")', 'jsonify(status="edited")',
                   lambda: "Worker reloading" in log.read_text(), "the reloader to see the edit")
        assert answered(lambda: browser.get(base + "/healthz", timeout=15)).json()["status"] == "edited"
        assert answered(lambda: requests.get(base + "/healthz", timeout=15)).json()["status"] == "edited"


def answered(get):
    """The answer to a request; sent once more if a connection was reset unread: the stopping worker can
    accept one in the instant between the reloader's log line and its stop, and closes it unread, which is no
    answer from the old code (and safe to send again), just a busy machine's timing."""
    try:
        return get()
    except requests.ConnectionError:
        return get()


def test_auto_reload_false_keeps_serving_the_code_it_started_with(tmp_path):
    app_dir = copy_app(tmp_path)
    with gunicorn(app_dir, AUTO_RELOAD="false") as (base, _):
        edit(app_dir / "board" / "health.py", 'jsonify(status="ok")', 'jsonify(status="reloaded")')
        time.sleep(3)  # reload, when on, happens well within this (see the test above)
        assert requests.get(base + "/healthz", timeout=2).json()["status"] == "ok"


def test_auto_reload_serves_an_edited_template_from_the_same_workers(tmp_path):
    app_dir = copy_app(tmp_path / "app")  # its log outside: gunicorn watches the config file's folder
    with gunicorn(app_dir, tmp_path / "gunicorn.log", AUTO_RELOAD="1", WEB_CONCURRENCY="2") as (base, process):
        before = booted_workers(process, 2)
        for _ in range(4):  # every worker renders (and caches) the page first
            assert "About board" in requests.get(base + "/about", timeout=5).text
        edit(app_dir / "board" / "templates" / "about.html", "About board", "About this edited board")
        for _ in range(4):
            wait_until(lambda: "About this edited board" in requests.get(base + "/about", timeout=2).text,
                       15, "the edited about page")
        edit(app_dir / "static" / "style.css", "box-sizing", "box-sizing: border-box; --edited: 1;"
             " box-sizing")
        assert "--edited: 1" in requests.get(base + "/static/style.css", timeout=5).text
        time.sleep(1)  # a restart, were one triggered, would have replaced the workers by now
        assert workers(process) == before


def test_access_log_carries_the_request_id(tmp_path):
    app_dir = copy_app(tmp_path)
    with gunicorn(app_dir) as (base, _):
        requests.get(base + "/about", headers={"X-Request-ID": "trace-me-42"}, timeout=5)
    log = (app_dir / "gunicorn.log").read_text()
    assert '"GET /about HTTP/1.1" 200' in log and "rid=trace-me-42" in log


def test_a_configuration_error_stops_gunicorn_at_once_with_one_line(tmp_path):
    app_dir = copy_app(tmp_path)
    env = {"PATH": os.environ["PATH"], "APP_ENV": "production", "PORT": str(free_port())}
    result = subprocess.run([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "board:create_app()"],
                            cwd=app_dir, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith("board: configuration error: SECRET_KEY is not set")
    assert "Traceback" not in result.stderr


def test_production_without_a_database_stops_gunicorn_with_one_line_naming_the_variables(tmp_path):
    app_dir = copy_app(tmp_path)
    env = {"PATH": os.environ["PATH"], "APP_ENV": "production", "SECRET_KEY": "k", "PORT": str(free_port())}
    result = subprocess.run([sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "board:create_app()"],
                            cwd=app_dir, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("board: configuration error: no database is configured")
    assert "DATABASE_URL" in last and "RDS_HOSTNAME" in last
    assert "Traceback" not in result.stderr
    assert not list(app_dir.rglob("*.sqlite"))


def test_the_master_imports_every_library_the_app_loads(tmp_path):
    # Workers forked after a reload then load only board's own modules, fresh from disk.
    script = """
import runpy, sys
settings = runpy.run_path("gunicorn.conf.py")
before = set(sys.modules)
from board import create_app
create_app()
own = set(sys.stdlib_module_names) | {"board", "_board_config"}
libraries = {name for name in set(sys.modules) - before if name.split(".")[0] not in own}
print(sorted(libraries))
"""
    env = {"PATH": os.environ["PATH"], "APP_ENV": "development", "DATABASE_URL": "postgresql+psycopg2://u:p@h/d"}
    result = subprocess.run([sys.executable, "-c", script], cwd=copy_app(tmp_path), env=env, capture_output=True,
                            text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]", "add these to LIBRARIES in gunicorn.conf.py: " + result.stdout

