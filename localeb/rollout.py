"""How a deployment moves through the fleet: the environment's deployment policy and batch size
(`aws:elasticbeanstalk:command`, `aws:elasticbeanstalk:trafficsplitting`), with the load balancer's target
group deciding when an instance takes requests (docs/eb-platform.md, "Deployment policies").

- The first deployment to new instances (the environment's launch) goes to all of them at once.
- AllAtOnce: every instance in place, none taken out of the load balancer.
- Rolling: one batch at a time; a batch is deregistered (drained), deployed, registered again, and must pass
  the health check before the next batch starts.
- RollingWithAdditionalBatch: a batch of new instances first (they must pass the health check), then Rolling
  over the old ones; the additional instances are removed at the end.
- Immutable: as many new instances as there are, registered beside the old ones; once all pass the health
  check the old ones are drained and removed, else the new ones are.
- TrafficSplitting: as Immutable, but the new instances get NewVersionPercent of the requests for the
  EvaluationTime, then all of them (the old ones removed), or none if one turns unhealthy.

A batch whose commands fail stops the rollout (its instances keep the version they served); so does a batch
whose commands succeed but whose instances do not pass the health check: they stay registered, unhealthy,
and the load balancer sends them nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from deploy.namespaces import DEPLOYMENT_POLICY, TRAFFIC_SPLITTING

from .balancer import TIME_SCALE
from .engine import Engine, Outcome

POLICIES = ("AllAtOnce", "Rolling", "RollingWithAdditionalBatch", "Immutable", "TrafficSplitting")
COMMAND_DEFAULTS = {"DeploymentPolicy": "AllAtOnce", "BatchSizeType": "Percentage", "BatchSize": "100",
                    "Timeout": "600", "IgnoreHealthCheck": "false"}
SPLITTING_DEFAULTS = {"NewVersionPercent": "10", "EvaluationTime": "5"}
CANARY = "canary"  # the listener's group for traffic splitting's new instances


@dataclass(frozen=True)
class Policy:
    name: str = "AllAtOnce"
    batch_type: str = "Percentage"
    batch_size: int = 100
    timeout: float = 60.0  # local seconds a batch has to pass the health check
    new_version_percent: int = 10
    evaluation: float = 30.0  # local seconds

    @classmethod
    def from_options(cls, options: dict[str, dict[str, str]]) -> Policy:
        command = {**COMMAND_DEFAULTS, **options.get(DEPLOYMENT_POLICY, {})}
        splitting = {**SPLITTING_DEFAULTS, **options.get(TRAFFIC_SPLITTING, {})}
        name = command["DeploymentPolicy"]
        if name not in POLICIES:
            name = "AllAtOnce"
        return cls(name, command["BatchSizeType"], int(command["BatchSize"]),
                   float(command["Timeout"]) * TIME_SCALE, int(splitting["NewVersionPercent"]),
                   float(splitting["EvaluationTime"]) * 60 * TIME_SCALE)

    def batch(self, count: int) -> int:
        """Instances a batch holds out of `count`: Fixed is a number, Percentage a share rounded up."""
        size = self.batch_size if self.batch_type == "Fixed" else math.ceil(count * self.batch_size / 100)
        return max(1, min(count, size))


def batches(engines: list, size: int) -> list[list]:
    return [engines[start:start + size] for start in range(0, len(engines), size)]


@dataclass
class Rollout:
    """One deployment's walk through the fleet; `work(engine, leader)` runs the version on one instance."""
    fleet: object
    policy: Policy
    work: Callable[[Engine, bool], Outcome]
    say: Callable[[str, str], None]
    outcomes: list[Outcome] = field(default_factory=list)
    unhealthy: list[str] = field(default_factory=list)
    done: bool = False
    batch_number: int = 0
    extra: list = field(default_factory=list)

    @property
    def balancer(self):
        return self.fleet.balancer

    def run(self) -> None:
        engines = list(self.fleet.engines)
        if not any(engine.container for engine in engines):
            self.done = self._in_place([engines])
            return
        name = self.policy.name
        if name in ("AllAtOnce", "Rolling") or len(engines) == 0:
            size = len(engines) if name == "AllAtOnce" else self.policy.batch(len(engines))
            self.done = self._in_place(batches(engines, size))
        elif name == "RollingWithAdditionalBatch":
            extra = self.fleet.launch(self.policy.batch(len(engines)))
            if self._fresh(extra):
                self.extra = extra  # serving beside the old instances until the end
                self.done = self._in_place(batches(engines, self.policy.batch(len(engines))))
            self.extra = []
            self.fleet.retire(extra)
        else:
            self.done = self._replace(engines)

    # --- the steps -----------------------------------------------------------------------------------
    def _deploy(self, batch: list[Engine]) -> bool:
        """Run the version on a batch; False (with EB's events) when a command failed."""
        self.batch_number += 1
        ids = ", ".join(engine.instance.id for engine in batch)
        self.say("INFO", f"Batch {self.batch_number}: Starting application deployment on instance(s) [{ids}].")
        failed = []
        for engine in batch:
            outcome = self.work(engine, not self.outcomes)
            self.outcomes.append(outcome)
            if not outcome.ok:
                failed.append(outcome)
        for outcome in failed:
            self.say("ERROR", f"[Instance: {outcome.instance}] Command failed on instance. Return code: 1 Output: "
                              f"[{outcome.step}] {outcome.message}")
            self.say("ERROR", "Instance deployment failed. For details, see 'eb-engine.log'.")
        return not failed

    def _healthy(self, batch: list[Engine], stayed: bool = False) -> bool:
        """Wait for the batch's targets to pass the health check; False (with EB's event) when one does not.
        A batch that `stayed` registered through its restart may have been marked unhealthy meanwhile: it
        gets the time to pass the check again."""
        sick = self.balancer.wait_healthy([engine.instance.id for engine in batch], self.policy.timeout,
                                          patience=self.balancer.group.time_to_unhealthy if stayed else 0)
        # The instance's own probe (the engine's) counts too: in place, a target the load balancer found healthy
        # before the switch may not have failed enough checks yet.
        answered = {outcome.instance: outcome.health for outcome in self.outcomes}
        sick += [engine.instance.id for engine in batch
                 if answered.get(engine.instance.id, "Ok") != "Ok" and engine.instance.id not in sick]
        if sick:
            self.unhealthy += sick
            self.say("ERROR", f"Instance id(s) '{','.join(sick)}' did not pass health check after command "
                              "execution. Aborting the operation.")
            return False
        self.say("INFO", f"Batch {self.batch_number}: Completed application deployment.")
        return True

    def _in_place(self, plan: list[list[Engine]]) -> bool:
        for batch in plan:
            others_serve = len(batch) < len(self.fleet.engines) + len(self.extra)
            if others_serve:
                self.balancer.deregister([engine.instance.id for engine in batch])
            deployed = self._deploy(batch)
            # Back in the target group whatever happened: an instance whose commands failed still runs the
            # version it had, and one whose new version does not answer never passes the health check.
            self.fleet.register(batch)
            if not deployed or not self._healthy(batch, stayed=not others_serve):
                return False
        return True

    def _fresh(self, engines: list[Engine], group: str = "default") -> bool:
        """Deploy to new instances and add them to the load balancer once their commands succeeded."""
        if not self._deploy(engines):
            return False
        self.fleet.register(engines, group)
        return self._healthy(engines)

    def _replace(self, old: list[Engine]) -> bool:
        """Immutable and TrafficSplitting: a full set of new instances replaces the old ones, or is removed."""
        new = self.fleet.launch(len(old), temporary=True)
        splitting = self.policy.name == "TrafficSplitting"
        if splitting:
            percent = self.policy.new_version_percent
            self.balancer.weigh({"default": 100 - percent, CANARY: percent})
        passed = self._fresh(new, CANARY if splitting else "default")
        if passed and splitting:
            self.say("INFO", f"Sending {self.policy.new_version_percent}% of the traffic to the new instances "
                             f"for the evaluation time.")
            passed = self._evaluate(new)
        if not passed:
            self.balancer.weigh({})
            self.fleet.retire(new)
            return False
        if splitting:
            self.balancer.weigh({"default": 0, CANARY: 100})
        self.fleet.adopt(new, old)
        if splitting:
            self.balancer.move([engine.instance.id for engine in new], "default")
            self.balancer.weigh({})
        return True

    def _evaluate(self, new: list[Engine]) -> bool:
        ids = [engine.instance.id for engine in new]
        sick = self.balancer.watch_health(ids, self.policy.evaluation)
        if sick:
            self.unhealthy += sick
            self.say("ERROR", f"Instance id(s) '{','.join(sick)}' turned unhealthy during the evaluation time; "
                              "traffic goes back to the previous version.")
            return False
        return True
