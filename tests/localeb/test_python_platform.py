"""The same bundle on the local Python 3.12 AL2023 platform: Procfile processes as webapp behind that platform's
nginx, static files from nginx, PORT followed, and a broken bundle fails as on Docker while the old version serves."""

from __future__ import annotations

import shlex

import pytest
import requests

from localeb import Fleet
from testkit.ports import free_port

from .conftest import (
    BROKEN_MIGRATION,
    made_up_forwarded_for_buys_no_attempts,
    version,
    visit_register_log_in_post_log_out,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def python_fleet(docker_engine, make_bundle):
    with Fleet(instances=1, port=free_port(), echo=lambda line: None, health_wait=60, platform="python") as fleet:
        result = fleet.deploy(make_bundle("py-v1"), label="py-v1")
        assert result.ok, [outcome.log for outcome in result.outcomes]
        yield fleet


def on_instance(fleet, script: str) -> str:
    return fleet.engines[0].instance.run(script, workdir="/").text


GUNICORN_USERS = ("import os, pwd\n"
                  "def cmdline(pid):\n    with open(f'/proc/{pid}/cmdline', 'rb') as file:\n"
                  "        return file.read()\n"
                  "print(' '.join(sorted({pwd.getpwuid(os.stat(f'/proc/{pid}').st_uid).pw_name\n"
                  "    for pid in os.listdir('/proc') if pid.isdigit() and cmdline(pid).startswith(b'/var/app/venv/')\n"
                  "    and b'bin/gunicorn' in cmdline(pid)})))\n")


def gunicorn_users(fleet) -> list[str]:
    """Who the gunicorn master and workers (run by the venv's python) run as."""
    return on_instance(fleet, f"python3 -c {shlex.quote(GUNICORN_USERS)}").split()


def web_pid(fleet) -> str:
    return on_instance(fleet, "cat /var/run/board-processes/web.pid").strip()


def test_the_procfile_web_process_serves_as_webapp_through_the_python_platforms_nginx(python_fleet):
    # No APP_VERSION property: the label comes from the instance's version manifest, through the prebuild hook.
    assert "APP_VERSION" not in python_fleet.properties and version(python_fleet.url) == "py-v1"
    log = on_instance(python_fleet, "cat /var/log/eb-engine.log")
    steps = ["InstallDependency", "RunAppDeployPreDeployHooks", "nginx -t -c /var/proxy/staging/nginx/nginx.conf",
             "FlipApplication", "runuser -u webapp -- gunicorn", "Health check /healthz: 200: Ok"]
    positions = [log.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "Docker" not in log  # no image built, no container started
    assert gunicorn_users(python_fleet) == ["webapp"]
    assert "proxy_pass          http://127.0.0.1:8000;" in on_instance(python_fleet, "nginx -T 2>/dev/null")


def test_a_visitor_registers_logs_in_posts_and_logs_out_over_http(python_fleet):
    visit_register_log_in_post_log_out(python_fleet.url)


def test_a_client_cannot_make_itself_new_with_x_forwarded_for(python_fleet):
    made_up_forwarded_for_buys_no_attempts(python_fleet.url)


def test_static_files_come_from_nginx_not_the_app(python_fleet):
    answer = requests.get(python_fleet.url + "/static/style.css", timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "text/css"
    assert requests.get(python_fleet.url + "/healthz", timeout=10).ok  # the app's access log has a line now
    access = on_instance(python_fleet, "cat /var/log/web.stdout.log")
    assert "GET /healthz" in access and "/static/style.css" not in access


def test_a_failing_migration_fails_at_predeploy_and_the_old_processes_keep_serving(python_fleet, make_bundle):
    def break_migrations(tree):
        (tree / "migrations/versions/9999_broken.py").write_text(BROKEN_MIGRATION)

    before = web_pid(python_fleet)
    result = python_fleet.deploy(make_bundle("py-broken", break_migrations), label="py-broken")
    assert not result.ok and result.health == "Red"
    assert result.failure.step == "RunAppDeployPreDeployHooks" and "no_such_table" in result.failure.output
    assert "Python platform: migrating from /var/app/venv/" in result.failure.output
    assert web_pid(python_fleet) == before and version(python_fleet.url) == "py-v1"


def test_a_conf_d_file_repeating_a_platform_directive_fails_at_the_proxy_step(python_fleet, make_bundle):
    def add_directive(tree):
        (tree / ".platform/nginx/conf.d/elasticbeanstalk/zz-timeouts.conf").write_text("keepalive_timeout 10;\n")

    result = python_fleet.deploy(make_bundle("py-dup", add_directive), label="py-dup")
    assert result.failure.step == "start proxy with new configuration"
    assert '"keepalive_timeout" directive is duplicate' in result.failure.output
    assert version(python_fleet.url) == "py-v1"


def test_the_port_property_moves_both_gunicorn_and_the_platforms_nginx(python_fleet):
    result = python_fleet.configure({"PORT": "8123"})
    assert result.ok, result.failure
    assert "proxy_pass          http://127.0.0.1:8123;" in on_instance(python_fleet, "nginx -T 2>/dev/null")
    assert "Listening at: http://0.0.0.0:8123" in on_instance(python_fleet, "cat /var/log/web.stdout.log")
    assert version(python_fleet.url) == "py-v1"
