"""A local environment: N instances behind one load balancer port, an optional PostgreSQL as RDS.

Every container it starts carries the label `board.local=<name>` and is removed by `stop()`.
Deployments follow the environment's deployment policy (localeb/rollout.py) behind a load balancer
that acts as an ALB target group (localeb/balancer.py, localeb/alb.py). A failed batch stops the
rollout: instances not yet reached keep the old version.
"""

from __future__ import annotations

import secrets as random
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from deploy.namespaces import DEPLOYMENT_POLICY

from .balancer import LoadBalancer, TargetGroup
from .docker import address, docker
from .engine import HEALTH_WAIT, Engine, InstanceConfig, Outcome
from .errors import LocalEBError
from .instance import Instance, build_image
from .python import PythonEngine, pip_cache_volume
from .rollout import Policy, Rollout
from .staging import bundle_extensions, unzip

INSTANCE_IMAGE = "board-local-eb-instance"  # tagged with its context's digest
DATABASE_IMAGE = "postgres:16"
LABEL = "board.local"
ENGINES = {"docker": Engine, "python": PythonEngine}
HEALTH_COLOURS = {"Ok": "Green", "Warning": "Yellow", "Degraded": "Red", "Severe": "Red"}


@dataclass
class Event:
    severity: str
    message: str
    date: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Result:
    """What EB would report after a deployment: events, Status, Health colour and HealthStatus."""
    ok: bool
    health_status: str
    events: list[Event]
    outcomes: list[Outcome]
    status: str = "Ready"
    unhealthy: list[str] = field(default_factory=list)  # instances whose commands succeeded, health check not

    @property
    def health(self) -> str:
        return HEALTH_COLOURS[self.health_status]

    @property
    def failure(self) -> Outcome | None:
        return next((outcome for outcome in self.outcomes if not outcome.ok), None)


def start_database(name: str, owner: str, echo: Callable[[str], None]) -> dict[str, str]:
    """A PostgreSQL container standing in for RDS (labelled for `owner`'s clean-up), with the RDS_* properties
    EB would set."""
    password = random.token_hex(16)
    docker("run", "--detach", "--name", name, "--label", f"{LABEL}={owner}", "--env", "POSTGRES_USER=ebroot",
           "--env", "POSTGRES_PASSWORD", "--env", "POSTGRES_DB=ebdb", DATABASE_IMAGE,
           env={"POSTGRES_PASSWORD": password})
    deadline = time.monotonic() + 60
    while docker("exec", name, "pg_isready", "-U", "ebroot", "-d", "ebdb", "-h", "127.0.0.1",
                 check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise LocalEBError("the local PostgreSQL did not start within 60 s")
        time.sleep(0.5)
    echo(f"local RDS stand-in {name} is ready")
    return {"RDS_HOSTNAME": address(name), "RDS_PORT": "5432", "RDS_DB_NAME": "ebdb",
            "RDS_USERNAME": "ebroot", "RDS_PASSWORD": password}


def database_url(rds: dict[str, str]) -> str:
    """The URL of a stand-in's database, for `deploy provision --database-url` (moto's RDS serves no SQL)."""
    return (f"postgresql://{rds['RDS_USERNAME']}:{rds['RDS_PASSWORD']}@{rds['RDS_HOSTNAME']}:{rds['RDS_PORT']}/"
            f"{rds['RDS_DB_NAME']}")


class Fleet:
    def __init__(self, instances: int = 1, port: int = 8080, database: bool = True, name: str | None = None,
                 echo: Callable[[str], None] = print, environment: str = "local", health_wait: float = HEALTH_WAIT,
                 platform: str = "docker", cold_instances: bool = False):
        """`cold_instances`: each instance starts as a new EC2 host does, its Docker empty (its first build uses no
        cache, an image counts as on it only once it pulled it); off, instances share the engine's warm cache."""
        if instances < 1:
            raise LocalEBError("--instances must be at least 1")
        if platform not in ENGINES:
            raise LocalEBError(f"unknown platform {platform!r}: use one of {', '.join(ENGINES)}")
        self.platform = platform
        self.name = name or "board-local-" + uuid.uuid4().hex[:6]
        self.port, self.echo, self.count = port, echo, instances
        self.wants_database = database
        self.cold_instances = cold_instances
        self.config = InstanceConfig(environment=environment, app=self.name, health_wait=health_wait)
        self.engines: list[Engine] = []  # the instances in service, in launch order
        self.balancer: LoadBalancer | None = None
        self.launched = 0
        self.settings: dict[str, dict[str, str]] = {}  # the option settings of the last deployment
        self.image = ""
        self.volumes: list[str] = []
        self.database: str | None = None
        self.defaults: dict[str, str] = {}
        self.version: str | None = None  # the label now serving
        self.properties: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> Fleet:
        try:
            self.echo(f"starting local environment {self.name}: {self.count} instance(s) behind {self.url}")
            self.image = build_image(INSTANCE_IMAGE)
            if self.wants_database:
                self.defaults = self._start_database()
            self.defaults.setdefault("SECRET_KEY", random.token_urlsafe(32))
            self.volumes = pip_cache_volume() if self.platform == "python" else []
            self.balancer = LoadBalancer(Instance(f"{self.name}-lb", self.image, {LABEL: self.name},
                                                  publish=LoadBalancer.ports(self.port)), self.port)
            self.balancer.start()
            self.engines = self.launch(self.count)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Remove every container this environment started, and the app containers its instances started."""
        for label in (f"{LABEL}={self.name}", f"{LABEL}.app={self.name}"):
            listed = docker("ps", "--all", "--quiet", "--filter", f"label={label}", check=False).stdout.split()
            if listed:
                docker("rm", "--force", "--volumes", *listed, check=False)
        # Dockerrun.aws.json's Volumes and Logging, as named volumes of the instances (engine.py).
        volumes = docker("volume", "ls", "--quiet", "--filter", f"label={LABEL}.app={self.name}", check=False)
        if volumes.stdout.split():
            docker("volume", "rm", "--force", *volumes.stdout.split(), check=False)
        self._remove_images(self.engines)
        for engine in self.engines:
            engine.instance.close()
        if self.balancer is not None:
            self.balancer.instance.close()
        self.engines.clear()

    @staticmethod
    def _remove_images(engines: list[Engine]) -> None:
        if engines:
            docker("image", "rm", *[tag for engine in engines for tag in (engine.staging_tag, engine.current_tag)],
                   check=False)

    # --- instances in and out -----------------------------------------------------------------------
    def launch(self, count: int, temporary: bool = False) -> list[Engine]:
        """New instances (not yet in service, nor in the load balancer); temporary ones as Immutable makes."""
        started = []
        for _ in range(count):
            self.launched += 1
            instance = Instance(f"{self.name}-{self.launched}", self.image, {LABEL: self.name},
                                volumes=self.volumes)
            started.append(ENGINES[self.platform](instance, self.echo, self.name, own_docker=self.cold_instances))
        return started

    def register(self, engines: list[Engine], group: str = "default") -> None:
        self.balancer.register({engine.instance.id: engine.instance.address for engine in engines}, group)

    def retire(self, engines: list[Engine]) -> None:
        """Drain instances out of the load balancer, then terminate them (their app containers too)."""
        self.balancer.deregister([engine.instance.id for engine in engines])
        # One call for all of them, as their EC2 hosts go at once: the app containers, then the instances.
        containers = [engine.container for engine in engines if engine.container]
        docker("rm", "--force", "--volumes", *containers, *(engine.instance.name for engine in engines), check=False)
        for engine in engines:
            engine.instance.close()
        self._remove_images(engines)
        self.engines = [engine for engine in self.engines if engine not in engines]

    def adopt(self, new: list[Engine], old: list[Engine]) -> None:
        """New instances take the old ones' place in service (Immutable, TrafficSplitting)."""
        self.engines = self.engines + new
        self.retire(old)

    def __enter__(self) -> Fleet:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- deployments -------------------------------------------------------------------------------
    def deploy(self, bundle: Path, properties: dict[str, str] | None = None, secrets: dict[str, str] | None = None,
               label: str | None = None, options: dict[str, dict[str, str]] | None = None,
               storage: Callable[[str, str], bytes] | None = None) -> Result:
        """Deploy the source bundle (a zip) as the deployment policy says; properties win over .ebextensions,
        and `options` (option settings made through the API: namespace -> name -> value) over the bundle's.
        `storage(bucket, key)` reads what EB reads from S3 on the instance (Dockerrun.aws.json's Authentication)."""
        # The label reaches the app as on EB: through the instance's version manifest and the prebuild hook,
        # not as an APP_VERSION property (only `python -m deploy release` sets that).
        merged = {**self.defaults, **(properties or {})}
        events = [Event("INFO", "Environment update is starting.")]
        with tempfile.TemporaryDirectory(prefix="eb-bundle-") as folder:
            bundle_dir = unzip(Path(bundle), Path(folder))
            settings = self._settings(bundle_dir, options or {})
            rollout = self._roll(events, settings, lambda engine, leader: engine.deploy(
                bundle_dir, merged, secrets or {}, leader,
                replace(self.config, label=label, storage=storage)))
        result = self._result(events, rollout, "application deployment")
        if result.ok:
            self.version, self.properties = label, merged
            events.insert(-1, Event("INFO", "New application version was deployed to running EC2 instances."))
        return result

    def configure(self, properties: dict[str, str], secrets: dict[str, str] | None = None,
                  options: dict[str, dict[str, str]] | None = None) -> Result:
        """A configuration-only update: the same version restarted with these properties, batch by batch."""
        merged = {**self.defaults, **self.properties, **properties}
        events = [Event("INFO", "Updating environment configuration settings.")]
        settings = {**self.settings, **(options or {})}
        policy = Policy.from_options(settings)
        if policy.name not in ("AllAtOnce", "Rolling"):  # a restart launches no instances
            settings = {**settings, DEPLOYMENT_POLICY: {**settings.get(DEPLOYMENT_POLICY, {}),
                                                        "DeploymentPolicy": "Rolling"}}
        rollout = self._roll(events, settings, lambda engine, leader: engine.configure(
            merged, secrets or {}, self.config))
        result = self._result(events, rollout, "configuration deployment")
        if result.ok:
            self.properties = merged
        return result

    def _settings(self, bundle_dir: Path, options: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        try:
            found = bundle_extensions(bundle_dir).options
        except LocalEBError:
            found = {}  # the instances report the bad file in their own step
        return {namespace: {**found.get(namespace, {}), **options.get(namespace, {})}
                for namespace in set(found) | set(options)}

    def _roll(self, events: list[Event], settings: dict[str, dict[str, str]], work) -> Rollout:
        self.settings = settings
        self.balancer.configure(TargetGroup.from_options(settings))
        rollout = Rollout(self, Policy.from_options(settings), work,
                          lambda severity, message: events.append(Event(severity, message)))
        rollout.run()
        return rollout

    def _result(self, events: list[Event], rollout: Rollout, what: str) -> Result:
        outcomes = rollout.outcomes
        ok = rollout.done and all(outcome.ok for outcome in outcomes) and not rollout.unhealthy
        in_service = {engine.instance.id for engine in self.engines}
        worst = "Ok"
        for outcome in outcomes:
            if outcome.instance not in in_service:
                continue
            if outcome.health == "Severe" or (outcome.health == "Degraded" and worst == "Ok"):
                worst = outcome.health
        sick = in_service & set(rollout.unhealthy)
        if sick:
            worst = "Severe" if sick == in_service else "Degraded"
        if not ok:
            events.append(Event("ERROR", f"Failed to complete the {what}: see the events above."))
            worst = worst if worst != "Ok" else "Degraded"
        elif worst != "Ok":
            events.append(Event("WARN", f"Environment health has transitioned from Ok to {worst}: "
                                        "the health check path does not answer as expected."))
        else:
            events.append(Event("INFO", "Environment update completed successfully."))
        return Result(ok and worst == "Ok", worst, events, outcomes, unhealthy=list(rollout.unhealthy))

    # --- the pieces around the instances -------------------------------------------------------
    def _start_database(self) -> dict[str, str]:
        self.database = f"{self.name}-rds"
        return start_database(self.database, self.name, self.echo)
