"""`python -m localeb serve`: the Elastic Beanstalk API on a local endpoint, each environment on local instances.

moto serves the AWS APIs the tools call (S3, IAM, SSM, Secrets Manager, RDS, EC2, ...) with the EB model of
localeb/eb_api.py; the first version deployed to an environment starts its fleet (instances as the options
in force say, a load balancer on the next free port from --first-port, a PostgreSQL standing in for the
environment's RDS database), and terminating the environment removes it. One more PostgreSQL stands in for
a database made apart from the environments (its URL is printed, for `deploy provision --database-url`).
Ctrl-C removes everything.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import uuid

from moto.server import ThreadedMotoServer

from . import eb_api
from .docker import available, docker
from .errors import DONE, LocalEBError
from .fleet import Fleet, database_url, start_database


def serve(port: int, first_port: int, out=print, stop_event: threading.Event | None = None) -> int:
    problem = available()
    if problem:
        raise LocalEBError(problem)
    # The AWS managed policies (AWSElasticBeanstalkWebTier, ...) that `eb create` attaches to its roles.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    ports = itertools.count(first_port)
    fleets: list[Fleet] = []
    lock = threading.Lock()

    def launch(environment: str, platform: str, instances: int) -> Fleet:
        with lock:
            fleet = Fleet(instances=instances, port=next(ports), platform=platform, environment=environment,
                          echo=lambda line: out(f"[{environment}] {line}"))
            fleets.append(fleet)
        fleet.start()
        out(f"{environment}: {instances} {platform} instance(s) behind {fleet.url}")
        return fleet

    eb_api.launch_fleets(launch)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    stop = stop_event or threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if stop_event is None else None
    database = f"localeb-{uuid.uuid4().hex[:6]}-rds"
    try:
        url = database_url(start_database(database, database, out))
        server.start()
        out(f"Elastic Beanstalk (moto and localeb's EB model) at http://127.0.0.1:{port}\n"
            f"  export AWS_ENDPOINT_URL=http://127.0.0.1:{port} AWS_ACCESS_KEY_ID=local "
            "AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1\n"
            "  then eb init / eb create / eb deploy, or python -m deploy provision / release; Ctrl-C stops\n"
            f"  a database for `python -m deploy provision --database-url`: {url}")
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        out("stopping: removing every local instance, load balancer and database")
        server.stop()
        for fleet in fleets:
            fleet.stop()
        docker("rm", "--force", "--volumes", database, check=False)
    return DONE
