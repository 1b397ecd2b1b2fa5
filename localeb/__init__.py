"""localeb: a local Elastic Beanstalk, to rehearse a release on one machine with the real tools.

Two parts, served together by `python -m localeb serve` (localeb/cli.py):
- the EB API model (localeb/eb_api.py, option rules in localeb/eb_options.py): moto's Elastic Beanstalk
  extended to behave as the service does where deploys care (versions, processing, events, health);
- local instances behind a load balancer (this module's Fleet): the bundle run through the AL2023
  platforms' own steps (Docker, Python), rolled out as the environment's deployment policy says
  (localeb/rollout.py) behind a load balancer that acts as an ALB target group (localeb/balancer.py:
  health-gated targets, draining, no retries; its program is localeb/alb.py).

It reads the bundle as EB does (deploy/ebextensions.py is the one reader of .ebextensions); the release
tool in deploy/ knows nothing of it and reaches it only through AWS_ENDPOINT_URL.

Each local instance is a container (localeb/instance-image/Dockerfile: bash,
python3, Debian's nginx, the docker CLI, get-config) that drives the host's
Docker engine through the mounted socket, as the platform drives the EC2
host's engine. `python -m localeb run` is the command; this is the API, for
the commands, the tests and the EB API model:

    from deploy.namespaces import DEPLOYMENT_POLICY
    from localeb import Fleet

    with Fleet(instances=2, port=8080) as fleet:     # start(): instances, load balancer, PostgreSQL as RDS
        result = fleet.deploy(Path("dist/bundle.zip"), properties={"LOG_LEVEL": "DEBUG"}, label="v1",
                              options={DEPLOYMENT_POLICY: {"DeploymentPolicy": "Rolling"}})
        result.ok, result.status, result.health, result.health_status   # True, "Ready", "Green", "Ok"
        for event in result.events: print(event.date, event.severity, event.message)
        result.failure        # the first failed instance's Outcome: .step, .message, .output (or None)
        result.unhealthy      # instances whose commands succeeded but whose health check did not pass
        fleet.balancer.health()   # each target's state: initial, healthy, unhealthy, draining
        fleet.configure({"LOG_LEVEL": "INFO"})       # configuration-only update: .platform/confighooks/
        fleet.version, fleet.url                      # label now serving, http://127.0.0.1:8080
                                                      # leaving the block: stop(), everything removed

`Fleet(platform="python")` runs the same bundle through the Python 3.12 AL2023
platform's steps instead (localeb/python.py: a venv with requirements.txt,
the Procfile's processes as `webapp`, that platform's nginx). `python -m localeb
run --platform python` is the command's switch.

`Fleet(database=False)` starts no PostgreSQL: pass RDS_*/DATABASE_URL in
`properties`. `secrets` gives the values of `environmentsecrets` names (what
EB resolves from SSM/Secrets Manager). A failed deployment leaves the
instances it did not finish on the version they were serving.

Wiring a local AWS (moto) to it: keep one started Fleet per EB environment;
on create_environment/update_environment with a VersionLabel, fetch that
version's SourceBundle from S3 to a file, call `fleet.deploy(path,
properties=<the environment's APPLICATION_ENVIRONMENT settings>,
label=VersionLabel)`, then report `result.events` as describe_events and
`result.health`/`result.health_status` as the environment's
Health/HealthStatus (Status back to Ready); an update with option settings
only maps to `fleet.configure(...)`.
"""

from .engine import Outcome
from .fleet import Event, Fleet, Result

__all__ = ["Event", "Fleet", "Outcome", "Result"]
