"""Reading an environment's state, its events, and judging its health."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from botocore.exceptions import ClientError

from .errors import DeployError

HEALTHY = {"Ok", "Info"}  # enhanced health statuses that mean "serving well"
FAILED = {"Degraded", "Severe"}


@dataclass
class State:
    name: str
    status: str  # Launching, Updating, Ready, Terminating, Terminated
    health: str  # colour: Green, Yellow, Red, Grey
    health_status: str | None  # enhanced: Ok, Info, Warning, Degraded, Severe, ...
    version: str | None
    cname: str | None

    @property
    def healthy(self) -> bool:
        return self.health_status in HEALTHY if self.health_status else self.health == "Green"

    @property
    def failed(self) -> bool:
        return self.health_status in FAILED or self.health == "Red"

    @property
    def warning(self) -> bool:
        return self.health_status == "Warning" or not self.health_status and self.health == "Yellow"

    def acceptable(self, accept_warning: bool) -> bool:
        return self.healthy or accept_warning and self.warning

    def line(self) -> str:
        return (f"{self.name}: {self.status}, health {self.health}/{self.health_status or '-'}, "
                f"version {self.version or '(none)'}")


def describe(eb, app: str, env: str) -> State:
    found = eb.describe_environments(ApplicationName=app, EnvironmentNames=[env], IncludeDeleted=False)
    live = [e for e in found["Environments"] if e["Status"] not in ("Terminated", "Terminating")]
    if not live:
        raise DeployError(f"no environment {env!r} in application {app!r} (check --app, --env and --region)")
    e = live[0]
    return State(e["EnvironmentName"], e["Status"], e.get("Health", "Grey"), e.get("HealthStatus"),
                 e.get("VersionLabel"), e.get("CNAME"))


def causes(eb, env: str) -> list[str]:
    """Why the environment and each instance are not Ok (enhanced health; empty without it)."""
    try:
        found = eb.describe_environment_health(EnvironmentName=env, AttributeNames=["Causes"]).get("Causes", [])
        for instance in eb.describe_instances_health(EnvironmentName=env, AttributeNames=["HealthStatus", "Causes"]
                                                     ).get("InstanceHealthList", []):
            found += [f"{instance.get('InstanceId')} ({instance.get('HealthStatus')}): {cause}"
                      for cause in instance.get("Causes", [])]
    except ClientError:  # basic health only
        return []
    return found


class EventStream:
    """New events of one environment, oldest first, each printed once."""

    def __init__(self, eb, app: str, env: str, since: datetime, out=print):
        self.eb, self.app, self.env, self.since, self.out = eb, app, env, since, out
        self.seen: set[tuple] = set()
        self.errors: list[str] = []  # WARN and worse, for the failure's summary
        self.deployment_failed = False  # an ERROR or FATAL event: EB itself says the operation failed

    def poll(self) -> None:
        events = self.eb.describe_events(ApplicationName=self.app, EnvironmentName=self.env,
                                         StartTime=self.since, MaxRecords=1000)["Events"]
        for event in sorted(events, key=lambda e: e["EventDate"]):
            key = (event["EventDate"], event["Message"])
            if key in self.seen:
                continue
            self.seen.add(key)
            line = f"  {event['EventDate']:%H:%M:%S}Z {event.get('Severity', 'INFO'):5} {event['Message']}"
            if event.get("Severity") in ("ERROR", "FATAL", "WARN"):
                self.errors.append(line.strip())
            self.deployment_failed |= event.get("Severity") in ("ERROR", "FATAL")
            self.out(line)


class TimedOut(TimeoutError):
    def __init__(self, state: State):
        super().__init__(state.line())
        self.state = state


def wait(eb, app: str, env: str, done, timeout: float, poll: float, events: EventStream | None = None,
         clock=time.monotonic, sleep=time.sleep) -> State:
    """Poll until done(state) is true; raises TimedOut with the last state."""
    deadline = clock() + timeout
    while True:
        state = describe(eb, app, env)
        if events:
            events.poll()
        if done(state):
            return state
        if clock() >= deadline:
            raise TimedOut(state)
        sleep(poll)
