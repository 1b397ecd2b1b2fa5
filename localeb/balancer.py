"""The environment's load balancer, driven from the fleet: register and deregister instances, set the
listener's weights, read each target's health (the program in the container is localeb/alb.py).

Its settings are the environment's `aws:elasticbeanstalk:environment:process:default` options, with EB's
defaults, and run on the local time scale: every duration EB counts in seconds or minutes (health check
interval and timeout, the time a batch has to pass, traffic splitting's evaluation time) is multiplied by
TIME_SCALE here, so a rollout takes seconds rather than minutes; counts (thresholds, percentages) are kept.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from deploy.namespaces import DEFAULT_PROCESS

from .docker import docker
from .errors import LocalEBError
from .instance import Instance

TIME_SCALE = 0.1  # one local second stands for ten on AWS
# Except where a request's own duration is what is waited for, which no scale shortens: a health check's
# timeout has a floor (a busy machine can take longer than a scaled half second to answer a working instance),
# and the deregistration delay is kept as it is (a slow login in flight must finish before its instance goes;
# draining still ends as soon as nothing is in flight).
TIMEOUT_FLOOR = 2.0
PROGRAM = Path(__file__).parent / "alb.py"
CONFIG, STATE = "/etc/balancer/config.json", "/run/balancer/state.json"
LISTEN_PORT = 80
# The fleet's own port into the balancer (state and configuration, never traffic), published on the host's
# loopback at a port Docker picks: a request there costs a millisecond, a `docker exec` a tenth of a second.
CONTROL_PORT = 81
# EB's defaults for the default process (the DEFAULT_PROCESS table).
PROCESS_DEFAULTS = {"HealthCheckPath": "/", "HealthCheckInterval": "15", "HealthCheckTimeout": "5",
                    "HealthyThresholdCount": "3", "UnhealthyThresholdCount": "5", "MatcherHTTPCode": "200",
                    "DeregistrationTimeout": "20"}


@dataclass(frozen=True)
class TargetGroup:
    """The default process's target group, in local seconds."""
    path: str = "/"
    interval: float = 1.5
    timeout: float = 2.0
    healthy: int = 3
    unhealthy: int = 5
    matcher: str = "200"
    deregistration_delay: float = 20.0

    @classmethod
    def from_options(cls, options: dict[str, dict[str, str]]) -> TargetGroup:
        values = {**PROCESS_DEFAULTS, **options.get(DEFAULT_PROCESS, {})}
        return cls(path=values["HealthCheckPath"], interval=float(values["HealthCheckInterval"]) * TIME_SCALE,
                   timeout=max(float(values["HealthCheckTimeout"]) * TIME_SCALE, TIMEOUT_FLOOR),
                   healthy=int(values["HealthyThresholdCount"]), unhealthy=int(values["UnhealthyThresholdCount"]),
                   matcher=values["MatcherHTTPCode"],
                   deregistration_delay=float(values["DeregistrationTimeout"]))

    @property
    def time_to_healthy(self) -> float:
        return self.interval * (self.healthy + 1)

    @property
    def time_to_unhealthy(self) -> float:
        return self.interval * (self.unhealthy + 1) + self.timeout


class LoadBalancer:
    """One listener on the published port, in its own container; targets are instance ids."""

    def __init__(self, instance: Instance, public_port: int):
        self.instance, self.public_port = instance, public_port
        self.group = TargetGroup()
        self.targets: dict[str, dict[str, str]] = {}  # id -> {"address", "group"}
        self.weights: dict[str, int] = {}
        self.serial = 0
        self.control = ""  # http://127.0.0.1:<port>, once started

    @staticmethod
    def ports(public_port: int) -> list[str]:
        """What the balancer's container publishes: the listener, and the control port."""
        return [f"127.0.0.1:{public_port}:{LISTEN_PORT}", f"127.0.0.1::{CONTROL_PORT}"]

    def start(self) -> None:
        self.instance.write_file("/opt/balancer/alb.py", PROGRAM.read_text())
        self.instance.write_file(CONFIG, self._config())
        self.instance.run(f"mkdir -p /run/balancer && nohup python3 /opt/balancer/alb.py {CONFIG} {STATE} "
                          f"{LISTEN_PORT} {self.public_port} 0.0.0.0 {CONTROL_PORT} >/var/log/balancer.log 2>&1 &",
                          workdir="/")
        published = docker("port", self.instance.name, f"{CONTROL_PORT}/tcp").stdout.split()[0]
        self.control = "http://" + published
        deadline = time.monotonic() + 30
        while self.state().get("serial") != self.serial:
            if time.monotonic() > deadline:
                log = self.instance.run("cat /var/log/balancer.log", workdir="/").text
                raise LocalEBError(f"the local load balancer did not start: {log.strip()}")
            time.sleep(0.1)

    def log(self, lines: int = 40) -> str:
        """The end of the balancer's log: each 5xx it answered, with the target (localeb/alb.py)."""
        return self.instance.run(f"tail -n {lines} /var/log/balancer.log", workdir="/").text

    # --- the target group --------------------------------------------------------------------------
    def configure(self, group: TargetGroup) -> None:
        self.group = group
        self._write()

    def register(self, targets: dict[str, str], group: str = "default") -> None:
        """Add targets (id -> address): each gets requests once it has passed the health check."""
        self.targets.update({target: {"address": f"{address}:80", "group": group}
                             for target, address in targets.items()})
        self._write()

    def deregister(self, ids: list[str]) -> None:
        """Take targets out and wait until they have drained (nothing in flight, or the delay is over)."""
        for target in ids:
            self.targets.pop(target, None)
        self._write()
        deadline = time.monotonic() + self.group.deregistration_delay + 5
        while time.monotonic() < deadline:
            state = self.state()
            if "targets" in state and not set(ids) & set(state["targets"]):  # no answer is not drained
                return
            time.sleep(0.05)

    def weigh(self, weights: dict[str, int]) -> None:
        """The listener's share of requests for each group (traffic splitting); empty: equal shares."""
        self.weights = dict(weights)
        self._write()

    def move(self, ids: list[str], group: str) -> None:
        for target in ids:
            self.targets[target]["group"] = group
        self._write()

    # --- health ------------------------------------------------------------------------------------
    def state(self) -> dict:
        """The balancer's state now; empty while it does not answer (starting)."""
        try:
            with urllib.request.urlopen(self.control + "/state", timeout=10) as answer:  # noqa: S310 (loopback)
                return json.loads(answer.read())
        except (OSError, ValueError):
            return {}

    def health(self) -> dict[str, dict]:
        """Each target's state (initial, healthy, unhealthy, draining), reason, requests in flight and served
        since it was registered."""
        return self.state().get("targets", {})

    def served(self) -> dict[str, int]:
        """Requests each target id has taken since the load balancer started."""
        return self.state().get("served", {})

    def wait_healthy(self, ids: list[str], timeout: float, patience: float = 0) -> list[str]:
        """Wait until every one of `ids` is healthy; the ids that are not (unhealthy, or still initial at the end).
        An unhealthy target ends the wait at once, or after `patience` seconds (it may pass the check again)."""
        started = time.monotonic()
        deadline = started + max(timeout, self.group.time_to_healthy)
        while True:
            health = self.health()
            states = {target: health.get(target, {}).get("state") for target in ids}
            if all(state == "healthy" for state in states.values()):
                return []
            failed = [target for target, state in states.items() if state == "unhealthy"]
            if failed and time.monotonic() - started < patience + self.group.time_to_healthy * bool(patience):
                failed = []
            if failed or time.monotonic() > deadline:
                return failed or [target for target, state in states.items() if state != "healthy"]
            time.sleep(0.05)

    def watch_health(self, ids: list[str], seconds: float) -> list[str]:
        """Watch targets for `seconds`; the ids that turned unhealthy (the watch ends at the first)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            states = self.state().get("targets")
            sick = [] if states is None else [target for target in ids
                                              if states.get(target, {}).get("state") != "healthy"]
            if sick:  # an unanswered read says nothing
                return sick
            time.sleep(0.2)
        return []

    def _config(self) -> str:
        self.serial += 1
        return json.dumps({"serial": self.serial, "targets": self.targets, "weights": self.weights,
                           "deregistration_delay": self.group.deregistration_delay,
                           "health": {"path": self.group.path, "interval": self.group.interval,
                                      "timeout": self.group.timeout, "healthy": self.group.healthy,
                                      "unhealthy": self.group.unhealthy, "matcher": self.group.matcher}})

    def _write(self) -> None:
        """The new configuration, in force when this returns."""
        change = urllib.request.Request(self.control + "/config", data=self._config().encode(), method="PUT")  # noqa: S310
        try:
            urllib.request.urlopen(change, timeout=30).close()  # noqa: S310 (loopback)
        except OSError as error:
            raise LocalEBError(f"the local load balancer refused its configuration: {error}") from None
