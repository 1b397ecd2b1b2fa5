"""Production on an instance with no database configured: the deploy fails with the app's one line, not a
SQLite file inside the container (lost at every deploy, different on every instance)."""

from __future__ import annotations

import pytest

from localeb import Fleet
from testkit.ports import free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_an_instance_without_a_database_refuses_to_start_the_app_with_one_clear_line(docker_engine, make_bundle):
    with Fleet(instances=1, port=free_port(), database=False, echo=lambda line: None, health_wait=30) as fleet:
        result = fleet.deploy(make_bundle("no-database"), label="v-no-db")
    assert not result.ok
    assert "board: configuration error: no database is configured; production needs DATABASE_URL" in \
        result.failure.output
    assert "Traceback" not in result.failure.output
