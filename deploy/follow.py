"""Deploying a label to an environment and following it to a verdict: EB's update state machine.

A refused update (throttled past the retries, environment not Ready) changes
nothing on EB, so it is `Refused` (exit 2), never rolled back. A deploy that
ran and did not end healthy is `Failed` (with where it left the environment).
Health policy: Warning is said at once and accepted only with
--accept-warning; Degraded or Severe right after an update that EB reports as
successful gets HEALTH_GRACE to clear before it counts; --soak keeps watching
a healthy version; --abort calls AbortEnvironmentUpdate on timeout or Ctrl-C.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from . import ci, environment, history, terminal
from .errors import DEPLOY_FAILED, INTERRUPTED, NEEDS_ATTENTION, USAGE, DeployError
from .namespaces import APPLICATION_ENVIRONMENT

# Enhanced health is worked out from what each instance's health agent reports every 10 seconds, and
# just after a deployment those windows still hold the restart's failed requests: a good version often
# shows Degraded or Red for a report or two. A minute is six reports, well inside any release's timeout.
HEALTH_GRACE = 60.0
ABORT_TIMEOUT = 1200.0  # an abort is EB redeploying the previous version: as long as an update may take
NOT_READY = "Must be Ready"  # UpdateEnvironment's refusal when another operation runs (docs/deploy-tool.md)


@dataclass(frozen=True)
class Policy:
    """How a deploy is followed and judged (the command line's flags)."""
    timeout: float = 1200
    poll: float = 5
    accept_warning: bool = False  # Ready with health Warning counts as success
    soak: float = 0  # seconds the new version must then stay healthy
    rollback: bool = True
    abort: bool = False  # on timeout or Ctrl-C: AbortEnvironmentUpdate, follow the environment back
    wait_ready: bool = False  # wait behind a busy environment instead of refusing
    health_grace: float = HEALTH_GRACE  # Degraded/Severe right after a successful update counts after this
    abort_timeout: float = ABORT_TIMEOUT  # how long an abort may take to bring the old version back


class Refused(DeployError):
    """EB said no before changing anything."""

    def __init__(self, message: str):
        super().__init__(message, USAGE)


class Failed(DeployError):
    """The deploy ran and did not end healthy; `state` is where the environment was left."""

    def __init__(self, message: str, state: environment.State):
        super().__init__(message, DEPLOY_FAILED)
        self.state = state


def latest_event(eb, app: str, env: str) -> str:
    latest = eb.describe_events(ApplicationName=app, EnvironmentName=env, MaxRecords=1)["Events"]
    return f"; latest event: {latest[0]['Message']}" if latest else ""


def ensure_ready(eb, app: str, env: str, policy: Policy | None = None, out=print,
                 timeout: float | None = None) -> environment.State:
    """The environment, Ready; busy or launching: refused, or with --wait-ready waited for (events shown)."""
    state = environment.describe(eb, app, env)
    if state.status == "Ready":
        return state
    busy = f"{env} is {state.status} (version {state.version or '(none)'}){latest_event(eb, app, env)}"
    if not policy or not policy.wait_ready:
        raise Refused(f"{busy}; try again when it is Ready, or pass --wait-ready")
    timeout = policy.timeout if timeout is None else timeout
    events = environment.EventStream(eb, app, env, since=datetime.now(UTC), out=out)
    with ci.group(f"{busy}; waiting up to {timeout:.0f} s for it to be Ready (--wait-ready)", out):
        try:
            return environment.wait(eb, app, env, lambda s: s.status == "Ready", timeout, policy.poll, events)
        except environment.TimedOut as still:
            raise Refused(f"{env} still {still.state.status} after waiting {timeout:.0f} s; nothing was "
                          "deployed") from None


def start_update(eb, app: str, env: str, label: str) -> None:
    try:
        eb.update_environment(ApplicationName=app, EnvironmentName=env, VersionLabel=label,
                              OptionSettings=[{"Namespace": APPLICATION_ENVIRONMENT, "OptionName": "APP_VERSION",
                                               "Value": label}])
    except ClientError as error:
        detail = error.response["Error"]
        refused = Refused(f"Elastic Beanstalk refused to deploy {label} to {env} ({detail.get('Code')}: "
                          f"{detail.get('Message')}); the environment was left as it was")
        refused.not_ready = NOT_READY in str(detail.get("Message"))
        raise refused from None


def start_when_ready(eb, app: str, env: str, label: str, policy: Policy, out) -> datetime:
    """UpdateEnvironment, and when it started; with --wait-ready, a refusal because another operation began
    since the environment was last seen Ready waits for that one to end and tries again, within --timeout."""
    deadline = time.monotonic() + policy.timeout
    while True:
        since = datetime.now(UTC)
        try:
            start_update(eb, app, env, label)
            return since
        except Refused as refused:
            left = deadline - time.monotonic()
            if not policy.wait_ready or not getattr(refused, "not_ready", False) or left <= 0:
                raise
            out(f"{env} became busy before {label} could start; waiting for it (--wait-ready)")
            ensure_ready(eb, app, env, policy, out, timeout=left)


def judge(eb, env: str, label: str, policy: Policy, out, events: environment.EventStream | None = None,
          clock=time.monotonic):
    """done(state) for environment.wait: the update ended (healthy, failed, or EB put another version back).
    Says at once when health is Warning, rather than waiting it out in silence. Degraded or Severe after an
    update EB reports no error for gets `policy.health_grace` to clear (a verdict on the first poll would roll
    back good versions); an update EB reports as failed is judged at once."""
    deadline = clock() + policy.timeout
    seen = {"updating": False, "warned": False, "degraded_since": None}

    def done(state: environment.State) -> bool:
        seen["updating"] |= state.status != "Ready"
        if state.status != "Ready" or not seen["updating"] and state.version != label:
            return False
        if state.version != label or state.acceptable(policy.accept_warning):
            return True
        if state.failed:
            return in_grace_over(state)
        if state.warning and not seen["warned"]:
            seen["warned"] = True
            why = "; ".join(environment.causes(eb, env)) or "no cause given"
            out(f"{label} is deployed with health Warning ({why}); waiting up to {max(deadline - clock(), 0):.0f} s "
                "more for Ok (--accept-warning counts Warning as healthy)")
        return False

    def in_grace_over(state: environment.State) -> bool:
        if events is not None and events.deployment_failed or policy.health_grace <= 0:
            return True  # EB reported the deployment failed: nothing to wait for
        if seen["degraded_since"] is None:
            seen["degraded_since"] = clock()
            out(f"{label} is deployed and health is {state.health}/{state.health_status or '-'}; giving it "
                f"{policy.health_grace:.0f} s to clear (health grace)")
        return clock() - seen["degraded_since"] >= policy.health_grace

    return done


def failure_detail(eb, env: str, state: environment.State, events: environment.EventStream, out) -> str:
    found = environment.causes(eb, env)
    for cause in found:
        out(f"  cause: {cause}")
    return "; ".join((events.errors[-5:] + found)[:6]) or state.line()


def follow(clients, app: str, env: str, label: str, policy: Policy, since: datetime, out) -> environment.State:
    """From update to verdict, then the soak; raises Failed. Ctrl-C or the timeout abort with --abort."""
    eb = clients.eb
    events = environment.EventStream(eb, app, env, since=since, out=out)
    with ci.group(f"{env}: deploying {label}", out), terminal.doing(f"the update of {env} to {label}"):
        try:
            state = environment.wait(eb, app, env, judge(eb, env, label, policy, out, events), policy.timeout,
                                     policy.poll, events)
        except environment.TimedOut as timeout:
            state = timeout.state
            hint = " (pass --accept-warning to accept Warning)" if state.warning else ""
            raise stop(clients, app, env, policy, events, out, Failed(
                f"timed out after {policy.timeout:.0f} s: {state.line()}{hint}", state)) from None
        except KeyboardInterrupt:
            raise stop(clients, app, env, policy, events, out, None) from None
        if state.version != label or not state.acceptable(policy.accept_warning):
            raise Failed(f"{label} did not become healthy: {failure_detail(eb, env, state, events, out)}", state)
        return soak(eb, app, env, label, policy, events, out) if policy.soak else state


def soak(eb, app: str, env: str, label: str, policy: Policy, events, out) -> environment.State:
    out(f"{label} is healthy; soaking {policy.soak:.0f} s: it must stay so")

    def broke(state: environment.State) -> bool:
        return state.version != label or state.status != "Ready" or not state.acceptable(policy.accept_warning) \
            and (state.failed or state.warning)

    try:
        state = environment.wait(eb, app, env, broke, policy.soak, policy.poll, events)
    except environment.TimedOut as soaked:
        return soaked.state
    raise Failed(f"{label} went {state.health}/{state.health_status or '-'} during the {policy.soak:.0f} s soak: "
                 f"{failure_detail(eb, env, state, events, out)}", state)


def stop(clients, app: str, env: str, policy: Policy, events, out, failure: Failed | None) -> DeployError:
    """After a timeout (failure) or Ctrl-C (None): abort with --abort, else say how to follow the update."""
    interrupted = failure is None
    what = "interrupted" if interrupted else str(failure)
    if not policy.abort:
        if interrupted:
            return DeployError(f"interrupted: the update of {env} goes on; `python -m deploy watch --app {app} "
                               f"--env {env}` follows it (add --abort to stop it)", INTERRUPTED)
        return failure
    state = abort(clients, app, env, policy, events, out)
    code = DEPLOY_FAILED if state.acceptable(policy.accept_warning) else NEEDS_ATTENTION
    return DeployError(f"{what}; aborted: {state.line()}", code)


def abort(clients, app: str, env: str, policy: Policy, events, out) -> environment.State:
    eb = clients.eb
    with terminal.doing(f"the abort of the update of {env}"):
        out(f"aborting the update of {env} (AbortEnvironmentUpdate); waiting up to {policy.abort_timeout:.0f} s "
            "for the previous version (--abort-timeout)")
        try:
            eb.abort_environment_update(EnvironmentName=env)
        except ClientError as error:
            raise DeployError(f"EB refused to abort the update of {env}: {error.response['Error'].get('Message')}",
                              NEEDS_ATTENTION) from None
        try:
            return environment.wait(eb, app, env, lambda s: s.status == "Ready", policy.abort_timeout, policy.poll,
                                    events)
        except environment.TimedOut as timeout:
            raise DeployError(f"the aborted update had not ended after {policy.abort_timeout:.0f} s: "
                              f"{timeout.state.line()}; `python -m deploy watch` follows it", NEEDS_ATTENTION) from None


def deploy(clients, app: str, env: str, label: str, policy: Policy, out=print) -> environment.State:
    since = start_when_ready(clients.eb, app, env, label, policy, out)
    out(f"deploying {label} to {env}")
    return follow(clients, app, env, label, policy, since, out)


def watch(clients, app: str, env: str, policy: Policy, out=print) -> environment.State:
    """Re-attach to an update in flight (or judge a settled environment): its events, then its verdict."""
    eb = clients.eb
    state = environment.describe(eb, app, env)
    since = datetime.now(UTC)
    if state.status != "Ready":
        recent = eb.describe_events(ApplicationName=app, EnvironmentName=env, MaxRecords=50)["Events"]
        starts = [e["EventDate"] for e in recent if "is starting" in e["Message"]]
        since = max(starts) if starts else since
        out(f"{env} is {state.status}: following it")
    events = environment.EventStream(eb, app, env, since=since, out=out)
    with ci.group(f"{env}: watching", out):
        try:
            state = environment.wait(eb, app, env, lambda s: s.status == "Ready" and (
                s.acceptable(policy.accept_warning) or s.failed), policy.timeout, policy.poll, events)
        except environment.TimedOut as timeout:
            raise stop(clients, app, env, policy, events, out, Failed(
                f"timed out after {policy.timeout:.0f} s: {timeout.state.line()}", timeout.state)) from None
        except KeyboardInterrupt:
            raise stop(clients, app, env, policy, events, out, None) from None
    out(state.line())
    if not state.acceptable(policy.accept_warning):
        raise Failed(f"{env} is not healthy: {failure_detail(eb, env, state, events, out)}", state)
    history.note(clients, app, state)
    return state
