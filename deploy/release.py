"""Release a version: bundle → S3 → application version → update → watch → roll back on failure."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from . import environment
from .bundle import write_bundle
from .errors import DEPLOY_FAILED, NEEDS_ATTENTION, DeployError

MAX_BUNDLE_BYTES = 500 * 1024 * 1024  # EB's limit for a source bundle
APP_ENVIRONMENT = "aws:elasticbeanstalk:application:environment"
HEALTHY_MARK = "ok:"  # in a version's description: "ok:<env>@<UTC time>" once it ran healthy there


@dataclass
class Bundle:
    path: Path
    size: int
    sha256: str


def build_bundle(root: Path, destination: Path) -> Bundle:
    path = write_bundle(root, destination)
    size = path.stat().st_size
    if size > MAX_BUNDLE_BYTES:
        raise DeployError(f"the bundle is {size / 1e6:.0f} MB; Elastic Beanstalk takes at most 500 MB: "
                          "check .ebignore")
    return Bundle(path, size, hashlib.sha256(path.read_bytes()).hexdigest())


def default_label(root: Path) -> str:
    """The git short SHA, with -dirty when tracked files have uncommitted changes."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise DeployError("not a git checkout (or no commits): pass --label") from None
    return sha + ("-dirty" if dirty else "")


def bundle_key(app: str, bundle: Bundle) -> str:
    # Content-addressed: the same bundle is uploaded once, whatever its label.
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
            self.out.write(f"\r  upload [{bar:<25}] {percent:3d}% of {self.total / 1e6:.1f} MB")
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
        out(f"uploading {bundle.size / 1e6:.2f} MB to s3://{bucket}/{key}")
        try:
            clients.s3.upload_file(str(bundle.path), bucket, key, Callback=Progress(bundle.size),
                                   Config=TransferConfig(multipart_threshold=8 * 1024 * 1024))
        except S3UploadFailedError as error:
            # Retried already (botocore); nothing was registered, so a rerun starts clean.
            raise DeployError(f"upload to s3://{bucket}/{key} failed: {error}; no version was created") from None
    return bucket, key


def ensure_version(eb, app: str, label: str, bucket: str, key: str, bundle: Bundle, out=print) -> None:
    """Create the version, or reuse it when the label already holds this very bundle."""
    existing = eb.describe_application_versions(ApplicationName=app, VersionLabels=[label])["ApplicationVersions"]
    if existing:
        source = existing[0].get("SourceBundle", {})
        if source.get("S3Key") == key:
            out(f"version {label} exists with this bundle: reusing it")
            return
        raise DeployError(f"version {label} already exists with a different bundle "
                          f"(s3://{source.get('S3Bucket')}/{source.get('S3Key')}); choose another --label")
    eb.create_application_version(ApplicationName=app, VersionLabel=label, Process=True,
                                  Description=f"sha256:{bundle.sha256}"[:200],
                                  SourceBundle={"S3Bucket": bucket, "S3Key": key})
    out(f"created version {label}")


def ensure_ready(eb, app: str, env: str) -> environment.State:
    state = environment.describe(eb, app, env)
    if state.status != "Ready":
        latest = eb.describe_events(ApplicationName=app, EnvironmentName=env, MaxRecords=1)["Events"]
        detail = f"; latest event: {latest[0]['Message']}" if latest else ""
        raise DeployError(f"{env} is {state.status} (another deployment or update is in progress, version "
                          f"{state.version or '(none)'}){detail}; try again when it is Ready")
    return state


def deploy_label(clients, app: str, env: str, label: str, timeout: float, poll: float, out=print) -> environment.State:
    """Point the environment at `label` and follow it until it is healthy, failed, or out of time."""
    eb = clients.eb
    events = environment.EventStream(eb, app, env, since=datetime.now(UTC), out=out)
    try:
        # A rollback may start while the failed update is still running: let it finish first.
        environment.wait(eb, app, env, lambda state: state.status == "Ready", timeout, poll)
        eb.update_environment(ApplicationName=app, EnvironmentName=env, VersionLabel=label,
                              OptionSettings=[{"Namespace": APP_ENVIRONMENT, "OptionName": "APP_VERSION",
                                               "Value": label}])
    except TimeoutError as error:
        raise DeployError(f"{env} did not become Ready within {timeout:.0f} s: {error}", DEPLOY_FAILED) from None
    except ClientError as error:
        raise DeployError(f"Elastic Beanstalk refused to deploy {label}: {error.response['Error']['Message']}",
                          DEPLOY_FAILED) from None
    out(f"deploying {label} to {env}")
    started = {"updating": False}

    def settled(state: environment.State) -> bool:
        started["updating"] |= state.status != "Ready"
        if state.status != "Ready" or not started["updating"] and state.version != label:
            return False
        return state.version != label or state.healthy or state.failed

    try:
        state = environment.wait(eb, app, env, settled, timeout, poll, events)
    except TimeoutError as error:
        raise DeployError(f"timed out after {timeout:.0f} s: {error}", DEPLOY_FAILED) from None
    if state.version == label and state.healthy:
        return state
    why = "; ".join(events.errors[-5:]) or state.line()
    raise DeployError(f"{label} did not become healthy: {why}", DEPLOY_FAILED)


def release(clients, root: Path, app: str, env: str, label: str | None, timeout: float, poll: float,
            rollback: bool, workdir: Path, out=print) -> environment.State:
    label = label or default_label(root)
    bundle = build_bundle(root, workdir / f"{label}.zip")
    out(f"bundle {bundle.path.name}: {bundle.size / 1e6:.2f} MB, sha256 {bundle.sha256[:16]}…")
    before = ensure_ready(clients.eb, app, env)
    bucket, key = upload(clients, app, bundle, out)
    ensure_version(clients.eb, app, label, bucket, key, bundle, out)
    try:
        state = deploy_label(clients, app, env, label, timeout, poll, out)
    except DeployError as failure:
        out(f"FAILED: {failure}")
        previous = before.version if before.healthy else previous_healthy_label(clients.eb, app, env, label)
        if not rollback or not previous or previous == label:
            reason = "--no-rollback" if not rollback else "no earlier healthy version to return to"
            raise DeployError(f"{failure} (not rolled back: {reason})", NEEDS_ATTENTION) from None
        out(f"rolling back to {previous}")
        try:
            deploy_label(clients, app, env, previous, timeout, poll, out)
        except DeployError as rollback_failure:
            raise DeployError(f"{failure}; the rollback to {previous} failed too: {rollback_failure}",
                              NEEDS_ATTENTION) from None
        raise DeployError(f"{failure}; rolled back to {previous}", DEPLOY_FAILED) from None
    mark_healthy(clients.eb, app, env, label)
    out(f"released {label}: {state.line()}" + (f"; http://{state.cname}/" if state.cname else ""))
    return state


def mark_healthy(eb, app: str, env: str, label: str) -> None:
    """Note in the version's description that it ran healthy in `env`: rollbacks pick from these."""
    version = eb.describe_application_versions(ApplicationName=app, VersionLabels=[label])["ApplicationVersions"][0]
    digest = version.get("Description", "").split(" ")[0]
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    eb.update_application_version(ApplicationName=app, VersionLabel=label,
                                  Description=f"{digest} {HEALTHY_MARK}{env}@{stamp}"[:200])


def previous_healthy_label(eb, app: str, env: str, current: str | None) -> str | None:
    """The version that most recently ran healthy in `env`, other than `current`."""
    marked = []
    for page in eb.get_paginator("describe_application_versions").paginate(ApplicationName=app):
        for version in page["ApplicationVersions"]:
            for word in version.get("Description", "").split():
                if word.startswith(f"{HEALTHY_MARK}{env}@") and version["VersionLabel"] != current:
                    marked.append((word.split("@", 1)[1], version["VersionLabel"]))
    return max(marked)[1] if marked else None


def roll_back(clients, app: str, env: str, to: str | None, timeout: float, poll: float, out=print):
    state = ensure_ready(clients.eb, app, env)
    target = to or previous_healthy_label(clients.eb, app, env, state.version)
    if not target:
        raise DeployError(f"no other version has run healthy in {env}; pass --to LABEL")
    out(f"rolling {env} back from {state.version} to {target}")
    state = deploy_label(clients, app, env, target, timeout, poll, out)
    mark_healthy(clients.eb, app, env, target)
    return state
