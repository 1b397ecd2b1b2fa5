"""A provisioned application and environment in moto (with the EB extension), and a release helper."""

from __future__ import annotations

import pytest

from deploy import environment, follow, provision, release
from testkit.tree import ROOT

APP, ENV = "board", "board-test"
POLL = 0.02


@pytest.fixture
def ready(clients):
    provision.provision(clients, APP, ENV, out=lambda line: None)
    environment.wait(clients.eb, APP, ENV, lambda s: s.status == "Ready", 5, POLL)
    return clients


def ship(clients, workdir, label, lines=None, root=ROOT, env=ENV, **policy):
    """release() as the command line calls it, its lines collected in `lines`."""
    out = lines.append if lines is not None else (lambda line: None)
    return release.release(clients, root, APP, env, label, follow.Policy(**{"timeout": 5, "poll": POLL, **policy}),
                           workdir, out=out)


def state(clients, env=ENV) -> environment.State:
    return environment.describe(clients.eb, APP, env)
