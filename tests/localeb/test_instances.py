"""Two instances behind one port, one deployment: migrations run once, both instances serve the new version."""

from __future__ import annotations

import re

import pytest

from localeb import Fleet
from localeb.docker import docker
from testkit.ports import free_port

from .conftest import version

pytestmark = [pytest.mark.docker, pytest.mark.slow]


LEADER_CONFIG = """container_commands:
  01_everywhere:
    command: touch /var/log/everywhere-ran
  02_leader:
    command: touch /var/log/leader-ran
    leader_only: true
"""


@pytest.mark.parametrize("platform", ["docker", "python"])
def test_two_instances_one_deploy_migrate_once_and_both_serve_it(docker_engine, make_bundle, platform):
    def add_container_commands(tree):
        (tree / ".ebextensions/99-leader.config").write_text(LEADER_CONFIG)

    with Fleet(instances=2, port=free_port(), echo=lambda line: None, health_wait=60, platform=platform) as fleet:
        result = fleet.deploy(make_bundle(f"two-{platform}", add_container_commands), label="v2")
        assert result.ok, [outcome.log for outcome in result.outcomes]
        batches = [event.message for event in result.events if event.message.startswith("Batch")]
        # The environment's first version goes to all its instances at once, as at launch.
        assert batches[0] == "Batch 1: Starting application deployment on instance(s) [i-1, i-2]."
        logs = "".join(engine.instance.run("cat /var/log/board-migrate.log", workdir="/").text
                       for engine in fleet.engines)
        applied = re.findall(r"Running upgrade \S* ?-> ([^,\s]+)", logs)
        assert applied and len(applied) == len(set(applied))  # each revision once, across both instances
        assert logs.count("database schema is at the head revision") == 2  # both ran the hook
        for engine in fleet.engines:
            answer = engine.instance.run("python3 -c \"import urllib.request; print(urllib.request.urlopen("
                                         "'http://127.0.0.1/version').read().decode())\"", workdir="/").text
            assert '"version":"v2"' in answer
        assert version(fleet.url) == "v2"
        ran = [[name for name in ("everywhere", "leader")
                if engine.instance.run(f"test -e /var/log/{name}-ran", workdir="/").ok] for engine in fleet.engines]
        assert ran == [["everywhere", "leader"], ["everywhere"]]  # leader_only: one instance per deployment
        tags = {tag for engine in fleet.engines for tag in (engine.staging_tag, engine.current_tag)}
        assert platform == "python" or tags <= image_tags()  # the Docker platform's images, one set an instance
    assert not tags & image_tags()  # stopping the environment removes them


def image_tags() -> set[str]:
    listed = docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout
    return set(listed.split())
