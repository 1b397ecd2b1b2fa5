"""The container port has one home, board/config.py: the files Docker, compose and EB read agree with it."""

import re
import shlex

import yaml

from board.config import CONTAINER_PORT, PORT
from testkit.tree import ROOT


def test_gunicorn_binds_the_container_port_unless_told_otherwise():
    assert PORT.default == CONTAINER_PORT


def test_the_dockerfile_exposes_and_health_checks_the_container_port():
    # EB's nginx forwards to the first EXPOSEd port: anything else is a 502 on every request.
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.findall(r"^EXPOSE (.+)$", dockerfile, flags=re.MULTILINE) == [str(CONTAINER_PORT)]
    assert f"os.environ.get('PORT', '{CONTAINER_PORT}')" in dockerfile


def test_compose_publishes_the_container_port():
    compose = yaml.safe_load((ROOT / "compose.yml").read_text())
    [mapping] = compose["services"]["webapp"]["ports"]
    assert mapping.rsplit(":", 1)[1] == str(CONTAINER_PORT)


def test_the_procfile_leaves_the_port_to_gunicorn_conf():
    [line] = (ROOT / "Procfile").read_text().splitlines()
    command = shlex.split(line.removeprefix("web:"))
    assert command[:3] == ["gunicorn", "--config", "gunicorn.conf.py"]
    assert not {"-b", "--bind"} & set(command) and not any(arg.startswith("--bind=") for arg in command)
