"""The one local AWS of a bench run: moto with the EB model (no simulated delay), started when a section first
needs it and stopped when the run ends. Sections share it and keep apart by environment name."""

from __future__ import annotations

import atexit
import logging
import os
from dataclasses import dataclass

import requests

from localeb import eb_api
from testkit.ports import free_port

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_EC2_METADATA_DISABLED": "true", "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}


@dataclass
class LocalAWS:
    server: object
    endpoint: str

    @property
    def env(self) -> dict[str, str]:
        """The environment for a `python -m deploy` (or `eb`) process aimed at it."""
        return {**os.environ, "AWS_ENDPOINT_URL": self.endpoint}


_running: list[LocalAWS] = []


def shared() -> LocalAWS:
    """The run's local AWS, started on first use (emptied, with IAM's managed policies loaded)."""
    if not _running:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # its request log
        os.environ.update(CREDENTIALS)
        eb_api.set_delay(0)
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        endpoint = f"http://127.0.0.1:{port}"
        requests.post(f"{endpoint}/moto-api/reset", timeout=30).raise_for_status()
        _running.append(LocalAWS(server, endpoint))
        atexit.register(stop)
    return _running[0]


def stop() -> None:
    while _running:
        _running.pop().server.stop()
