"""`python -m localeb run`: this repo's exact bundle on local EB instances, served through real nginx.

Runs until Ctrl-C, then removes every container it started. Without
--env-file the instances get a PostgreSQL container as RDS (the same RDS_*
properties EB sets) and a generated SECRET_KEY.
"""

from __future__ import annotations

import signal
import tempfile
import threading
from pathlib import Path

from dotenv import dotenv_values

from deploy.bundle import write_bundle

from . import docker
from .errors import FAILED, LocalEBError
from .fleet import Fleet


def properties_from(path: Path | None) -> dict[str, str] | None:
    if path is None:
        return None
    if not path.is_file():
        raise LocalEBError(f"--env-file {path}: no such file")
    return {name: value or "" for name, value in dotenv_values(path).items()}


def run(root: Path, port: int, instances: int, env_file: Path | None, label: str, out=print,
        stop_event: threading.Event | None = None, platform: str = "docker") -> int:
    problem = docker.available()
    if problem:
        raise LocalEBError(problem)
    properties = properties_from(env_file)
    with tempfile.TemporaryDirectory(prefix="board-local-") as workdir:
        bundle = write_bundle(root, Path(workdir) / f"{label}.zip")
        out(f"bundle {bundle.name}: {bundle.stat().st_size} bytes (from .ebignore)")
        fleet = Fleet(instances=instances, port=port, database=properties is None, echo=out, platform=platform)
        stop = stop_event or threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            fleet.start()
            result = fleet.deploy(bundle, properties=properties, label=label)
            for event in result.events:
                out(f"{event.date:%Y-%m-%d %H:%M:%S} {event.severity:<5} {event.message}")
            if not result.ok:
                failure = result.failure
                if failure and failure.output:
                    out(f"--- output of the failed step [{failure.step}] ---\n{failure.output}")
                out(f"localeb run: the deployment failed (health {result.health_status}); stopping")
                return FAILED
            out(f"serving {label} at {fleet.url}/ through nginx; Ctrl-C stops and removes everything")
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            out("stopping: removing the local instances, load balancer and database")
            fleet.stop()
    return 0
