"""Release a version: bundle → S3 → application version (processed) → update → watch → soak → roll back on failure.

A refused update (throttled past the retries, environment not Ready) changes
nothing on EB, so it is reported as refused (exit 2), never rolled back.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from . import ci, environment, history, versions
from .bundle import bundle_files, total_size, write_bundle
from .errors import DEPLOY_FAILED, INTERRUPTED, NEEDS_ATTENTION, USAGE, DeployError

MAX_BUNDLE_BYTES = 500 * 1024 * 1024  # EB's limit for a source bundle: 500 MiB
APP_ENVIRONMENT = "aws:elasticbeanstalk:application:environment"


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


class Refused(DeployError):
    """EB said no before changing anything."""

    def __init__(self, message: str):
        super().__init__(message, USAGE)


class Failed(DeployError):
    """The deploy ran and did not end healthy; `state` is where the environment was left."""

    def __init__(self, message: str, state: environment.State):
        super().__init__(message, DEPLOY_FAILED)
        self.state = state


@dataclass
class Bundle:
    path: Path
    size: int
    sha256: str


def mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def check_size(root: Path, files: list[str]) -> None:
    """On the file list, before zipping: a tree this large is a .ebignore mistake, not an app."""
    size = total_size(root, files)
    if size > MAX_BUNDLE_BYTES:
        raise DeployError(f"the bundle's {len(files)} files hold {mib(size)}; Elastic Beanstalk takes at most "
                          f"{mib(MAX_BUNDLE_BYTES)}: check .ebignore")


def build_bundle(root: Path, destination: Path, files: list[str] | None = None) -> Bundle:
    files = bundle_files(root) if files is None else files
    check_size(root, files)
    path = write_bundle(root, destination, files)
    size = path.stat().st_size
    if size > MAX_BUNDLE_BYTES:
        raise DeployError(f"the bundle is {mib(size)}; Elastic Beanstalk takes at most {mib(MAX_BUNDLE_BYTES)}: "
                          "check .ebignore")
    with open(path, "rb") as reader:
        digest = hashlib.file_digest(reader, "sha256").hexdigest()
    return Bundle(path, size, digest)


def default_label(root: Path, out=print) -> str:
    """The git short SHA, with -dirty when tracked files changed or untracked (not ignored) files exist:
    both would ship in the bundle under a label that names a commit without them."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=normal"], cwd=root,
                                 capture_output=True, text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        raise DeployError("not a git checkout (or no commits): pass --label") from None
    if not changed:
        return sha
    untracked = [line[3:] for line in changed if line.startswith("??")]
    names = ", ".join(line[3:] for line in changed[:3]) + (", …" if len(changed) > 3 else "")
    out(f"label {sha}-dirty: {len(changed)} paths differ from HEAD ({len(untracked)} untracked): {names}")
    return sha + "-dirty"


def bundle_key(app: str, bundle: Bundle) -> str:
    # Content-addressed: the same bundle is uploaded once, whatever its label (so versions share objects).
    return f"{app}/bundles/{bundle.sha256}.zip"


class Progress:
    """A one-line upload progress bar on stderr."""

    def __init__(self, total: int, out=sys.stderr):
        self.total, self.done, self.out, self.shown = max(total, 1), 0, out, -1

    def __call__(self, chunk: int) -> None:
        self.done += chunk
        percent = min(100, self.done * 100 // self.total)
        if percent != self.shown:
            self.shown = percent
            bar = "#" * (percent // 4)
            self.out.write(f"\r  upload [{bar:<25}] {percent:3d}% of {mib(self.total)}")
            if percent == 100:
                self.out.write("\n")
            self.out.flush()


def upload(clients, app: str, bundle: Bundle, out=print) -> tuple[str, str]:
    bucket = clients.eb.create_storage_location()["S3Bucket"]
    key = bundle_key(app, bundle)
    try:
        clients.s3.head_object(Bucket=bucket, Key=key)
        out(f"bundle already in s3://{bucket}/{key}")
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
            raise
        out(f"uploading {mib(bundle.size)} to s3://{bucket}/{key}")
        try:
            clients.s3.upload_file(str(bundle.path), bucket, key, Callback=Progress(bundle.size),
                                   Config=TransferConfig(multipart_threshold=8 * 1024 * 1024))
        except S3UploadFailedError as error:
            # Retried already (botocore); nothing was registered, so a rerun starts clean.
            raise DeployError(f"upload to s3://{bucket}/{key} failed: {error}; no version was created") from None
    return bucket, key


def latest_event(eb, app: str, env: str) -> str:
    latest = eb.describe_events(ApplicationName=app, EnvironmentName=env, MaxRecords=1)["Events"]
    return f"; latest event: {latest[0]['Message']}" if latest else ""


def ensure_ready(eb, app: str, env: str, policy: Policy | None = None, out=print) -> environment.State:
    """The environment, Ready; busy or launching: refused, or with --wait-ready waited for (events shown)."""
    state = environment.describe(eb, app, env)
    if state.status == "Ready":
        return state
    busy = f"{env} is {state.status} (version {state.version or '(none)'}){latest_event(eb, app, env)}"
    if not policy or not policy.wait_ready:
        raise Refused(f"{busy}; try again when it is Ready, or pass --wait-ready")
    events = environment.EventStream(eb, app, env, since=datetime.now(UTC), out=out)
    with ci.group(f"{busy}; waiting for it to be Ready (--wait-ready)", out):
        try:
            return environment.wait(eb, app, env, lambda s: s.status == "Ready", policy.timeout, policy.poll,
                                    events)
        except environment.TimedOut as timeout:
            raise Refused(f"{env} still {timeout.state.status} after {policy.timeout:.0f} s; nothing was "
                          "deployed") from None


def start_update(eb, app: str, env: str, label: str) -> None:
    try:
        eb.update_environment(ApplicationName=app, EnvironmentName=env, VersionLabel=label,
                              OptionSettings=[{"Namespace": APP_ENVIRONMENT, "OptionName": "APP_VERSION",
                                               "Value": label}])
    except ClientError as error:
        detail = error.response["Error"]
        raise Refused(f"Elastic Beanstalk refused to deploy {label} to {env} ({detail.get('Code')}: "
                      f"{detail.get('Message')}); the environment was left as it was") from None


def judge(eb, env: str, label: str, policy: Policy, out):
    """done(state) for environment.wait: the update ended (healthy, failed, or EB put another version back).
    Says at once when health is Warning, rather than waiting it out in silence."""
    seen = {"updating": False, "warned": False}

    def done(state: environment.State) -> bool:
        seen["updating"] |= state.status != "Ready"
        if state.status != "Ready" or not seen["updating"] and state.version != label:
            return False
        if state.version != label or state.acceptable(policy.accept_warning) or state.failed:
            return True
        if state.warning and not seen["warned"]:
            seen["warned"] = True
            why = "; ".join(environment.causes(eb, env)) or "no cause given"
            out(f"{label} is deployed with health Warning ({why}); waiting up to {policy.timeout:.0f} s for Ok "
                "(--accept-warning counts Warning as healthy)")
        return False

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
    with ci.group(f"{env}: deploying {label}", out):
        try:
            state = environment.wait(eb, app, env, judge(eb, env, label, policy, out), policy.timeout, policy.poll,
                                     events)
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
    out(f"aborting the update of {env} (AbortEnvironmentUpdate)")
    try:
        eb.abort_environment_update(EnvironmentName=env)
    except ClientError as error:
        raise DeployError(f"EB refused to abort the update of {env}: {error.response['Error'].get('Message')}",
                          NEEDS_ATTENTION) from None
    try:
        return environment.wait(eb, app, env, lambda s: s.status == "Ready", policy.timeout, policy.poll, events)
    except environment.TimedOut as timeout:
        raise DeployError(f"the aborted update had not ended after {policy.timeout:.0f} s: {timeout.state.line()}",
                          NEEDS_ATTENTION) from None


def deploy(clients, app: str, env: str, label: str, policy: Policy, out=print) -> environment.State:
    since = datetime.now(UTC)
    start_update(clients.eb, app, env, label)
    out(f"deploying {label} to {env}")
    return follow(clients, app, env, label, policy, since, out)


def release(clients, root: Path, app: str, env: str, label: str | None, policy: Policy, workdir: Path,
            out=print) -> environment.State:
    eb = clients.eb
    label = label or default_label(root, out)
    files = bundle_files(root)
    check_size(root, files)
    before = ensure_ready(eb, app, env, policy, out)
    history.note(eb, app, before)  # versions deployed by other means count for rollbacks too
    bundle = build_bundle(root, workdir / f"{label}.zip", files)
    out(f"bundle {bundle.path.name}: {mib(bundle.size)}, sha256 {bundle.sha256[:16]}…")
    reuse = versions.label_holds(eb, app, label, bundle_key(app, bundle))  # before any upload
    bucket, key = upload(clients, app, bundle, out)
    if reuse:
        out(f"version {label} exists with this bundle: reusing it")
    else:
        versions.create(eb, app, label, bucket, key, bundle.sha256)
        out(f"created version {label}")
    versions.wait_processed(eb, app, label, policy.timeout, policy.poll, out)
    try:
        state = deploy(clients, app, env, label, policy, out)
    except Failed as failure:
        out(f"FAILED: {failure}")
        raise recover(clients, app, env, label, before, failure, policy, out) from None
    history.mark_healthy(eb, app, env, label)
    out(f"released {label}: {state.line()}" + (f"; http://{state.cname}/" if state.cname else ""))
    return state


def recover(clients, app: str, env: str, label: str, before: environment.State, failure: Failed, policy: Policy,
            out) -> DeployError:
    """Roll back to the version that ran healthy before; the error to exit with, whatever happens."""
    if failure.state.status != "Ready":
        return DeployError(f"{failure}; not rolled back: {env} is still {failure.state.status} (the update goes "
                           f"on: `python -m deploy watch` follows it, --abort stops it)", NEEDS_ATTENTION)
    eb = clients.eb
    previous = before.version if before.healthy and before.version != label else \
        history.previous_healthy_label(eb, app, env, label)
    if not policy.rollback or not previous:
        reason = "--no-rollback" if not policy.rollback else "no earlier healthy version to return to"
        return DeployError(f"{failure} (not rolled back: {reason})", NEEDS_ATTENTION)
    if failure.state.version == previous and failure.state.healthy:
        # EB itself kept or put back the previous version: redeploying it would only cost another update.
        return DeployError(f"{failure}; {env} is back on {previous} and healthy: nothing to roll back",
                           DEPLOY_FAILED)
    out(f"rolling back to {previous}")
    try:
        deploy(clients, app, env, previous, replace(policy, soak=0), out)
    except DeployError as rollback_failure:
        return DeployError(f"{failure}; the rollback to {previous} failed too: {rollback_failure}", NEEDS_ATTENTION)
    history.mark_healthy(eb, app, env, previous)
    return DeployError(f"{failure}; rolled back to {previous}", DEPLOY_FAILED)


def roll_back(clients, app: str, env: str, to: str | None, policy: Policy, out=print) -> environment.State:
    eb = clients.eb
    state = ensure_ready(eb, app, env, policy, out)
    history.note(eb, app, state)
    if to:
        versions.require_deployable(eb, app, to)
    target = to or history.previous_healthy_label(eb, app, env, state.version)
    if not target:
        raise DeployError(f"no other version has run healthy in {env}; pass --to LABEL")
    out(f"rolling {env} back from {state.version} to {target}")
    state = deploy(clients, app, env, target, policy, out)
    history.mark_healthy(eb, app, env, target)
    return state


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
    history.note(eb, app, state)
    return state
