"""A local environment: N instances behind one load balancer port, an optional PostgreSQL as RDS.

Every container it starts carries the label `board.local=<name>` and is removed by `stop()`.
Deployments are rolling as the environment's DeploymentPolicy with BatchSize 1 would
have them: the first batch (one instance, the leader of this deployment), then the
rest; a batch leaves the load balancer while it deploys and rejoins afterwards. A
failed batch stops the rollout: instances not yet reached keep the old version.
"""

from __future__ import annotations

import secrets as random
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from deploy.provision import STATIC_FILES

from .docker import address, docker
from .engine import Engine, Outcome
from .errors import LocalEBError
from .instance import Instance, build_image
from .python import PythonEngine, pip_cache_volume
from .staging import unzip

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
                 echo: Callable[[str], None] = print, environment: str = "local", health_wait: float = 90,
                 platform: str = "docker"):
        if instances < 1:
            raise LocalEBError("--instances must be at least 1")
        if platform not in ENGINES:
            raise LocalEBError(f"unknown platform {platform!r}: use one of {', '.join(ENGINES)}")
        self.platform = platform
        self.name = name or "board-local-" + uuid.uuid4().hex[:6]
        self.port, self.echo, self.count = port, echo, instances
        self.wants_database = database
        # Option settings made through the API at creation (provision.py), not in .ebextensions.
        static = STATIC_FILES if platform == "python" else {}
        self.config = {"environment": environment, "health_wait": health_wait, "static_files": static}
        self.engines: list[Engine] = []
        self.balancer: Instance | None = None
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
            image = build_image(INSTANCE_IMAGE)
            labels = {LABEL: self.name}
            if self.wants_database:
                self.defaults = self._start_database()
            self.defaults.setdefault("SECRET_KEY", random.token_urlsafe(32))
            volumes = pip_cache_volume() if self.platform == "python" else []
            for number in range(1, self.count + 1):
                instance = Instance(f"{self.name}-{number}", image, labels, volumes=volumes)
                self.engines.append(ENGINES[self.platform](instance, self.echo, self.name))
            self.balancer = Instance(f"{self.name}-lb", image, labels,
                                     publish=f"127.0.0.1:{self.port}:80")
            self._balance()
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
        docker("image", "rm", *[f"{tag}:{engine.instance.name}" for engine in self.engines
                                for tag in ("aws_beanstalk/staging-app", "aws_beanstalk/current-app")],
               check=False)
        self.engines.clear()

    def __enter__(self) -> Fleet:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- deployments -------------------------------------------------------------------------------
    def deploy(self, bundle: Path, properties: dict[str, str] | None = None, secrets: dict[str, str] | None = None,
               label: str | None = None) -> Result:
        """Deploy the source bundle (a zip) to every instance, rolling; properties win over .ebextensions."""
        # The label reaches the app as on EB: through the instance's version manifest and the prebuild hook,
        # not as an APP_VERSION property (only `python -m deploy release` sets that).
        merged = {**self.defaults, **(properties or {})}
        events = [Event("INFO", "Environment update is starting.")]
        with tempfile.TemporaryDirectory(prefix="eb-bundle-") as folder:
            bundle_dir = unzip(Path(bundle), Path(folder))
            outcomes = self._rolling(events, lambda engine, leader: engine.deploy(
                bundle_dir, merged, secrets or {}, leader, {**self.config, "app": self.name, "label": label}))
        result = self._result(events, outcomes, "application deployment")
        if result.ok:
            self.version, self.properties = label, merged
            events.insert(-1, Event("INFO", "New application version was deployed to running EC2 instances."))
        return result

    def configure(self, properties: dict[str, str], secrets: dict[str, str] | None = None) -> Result:
        """A configuration-only update: the same version restarted with these properties."""
        merged = {**self.defaults, **self.properties, **properties}
        events = [Event("INFO", "Updating environment configuration settings.")]
        outcomes = self._rolling(events, lambda engine, leader: engine.configure(merged, secrets or {}, self.config))
        result = self._result(events, outcomes, "configuration deployment")
        if result.ok:
            self.properties = merged
        return result

    def _rolling(self, events: list[Event], work) -> list[Outcome]:
        batches = [self.engines[:1], self.engines[1:]] if len(self.engines) > 1 else [self.engines]
        outcomes: list[Outcome] = []
        for number, batch in enumerate(batches, 1):
            ids = ", ".join(engine.instance.id for engine in batch)
            events.append(Event("INFO", f"Batch {number}: Starting application deployment on instance(s) [{ids}]."))
            others_serve = len(batch) < len(self.engines)
            if others_serve:
                self._balance(out_of_service=batch)
            for engine in batch:
                outcomes.append(work(engine, number == 1 and engine is batch[0]))
            if others_serve:
                self._balance()
            failed = [outcome for outcome in outcomes if not outcome.ok]
            for outcome in failed:
                events.append(Event("ERROR", f"[Instance: {outcome.instance}] Command failed on instance. "
                                             f"Return code: 1 Output: [{outcome.step}] {outcome.message}"))
                events.append(Event("ERROR", "Instance deployment failed. For details, see 'eb-engine.log'."))
            if failed:
                break
            events.append(Event("INFO", f"Batch {number}: Completed application deployment."))
        return outcomes

    def _result(self, events: list[Event], outcomes: list[Outcome], what: str) -> Result:
        ok = len(outcomes) == len(self.engines) and all(outcome.ok for outcome in outcomes)
        worst = "Ok"
        for outcome in outcomes:
            if outcome.health == "Severe" or (outcome.health == "Degraded" and worst == "Ok"):
                worst = outcome.health
        if not ok:
            events.append(Event("ERROR", f"Failed to complete the {what}: see the events above."))
            worst = worst if worst != "Ok" else "Degraded"
        elif worst != "Ok":
            events.append(Event("WARN", f"Environment health has transitioned from Ok to {worst}: "
                                        "the health check path does not answer as expected."))
        else:
            events.append(Event("INFO", "Environment update completed successfully."))
        return Result(ok and worst == "Ok", worst, events, outcomes)

    # --- the pieces around the instances -------------------------------------------------------
    def _start_database(self) -> dict[str, str]:
        self.database = f"{self.name}-rds"
        return start_database(self.database, self.name, self.echo)

    def _balance(self, out_of_service: list[Engine] = ()) -> None:
        """The load balancer's targets: every instance, minus those deploying (when others can serve)."""
        servers = "".join(f"        server {engine.instance.address}:80"
                          f"{' down' if engine in out_of_service else ''};\n" for engine in self.engines)
        config = (
            "events { worker_connections 1024; }\n"
            "http {\n"
            "    access_log off;\n"
            f"    upstream instances {{\n{servers}    }}\n"
            "    server {\n"
            "        listen 80;\n"
            "        location / {\n"
            "            proxy_pass http://instances;\n"
            "            proxy_set_header Host $http_host;\n"
            "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
            "            proxy_set_header X-Forwarded-Proto http;\n"
            f"            proxy_set_header X-Forwarded-Port {self.port};\n"
            "            proxy_next_upstream error timeout http_502 http_503 http_504;\n"
            "        }\n"
            "    }\n"
            "}\n")
        self.balancer.write_file("/etc/nginx/balancer.conf", config)
        running = self.balancer.run("test -s /run/balancer.pid", workdir="/").ok
        command = "nginx -c /etc/nginx/balancer.conf -g 'pid /run/balancer.pid;'"
        out = self.balancer.run(command + (" -s reload" if running else ""), workdir="/")
        if not out.ok:
            raise LocalEBError(f"the local load balancer did not take its configuration: {out.text.strip()}")
