"""Release a version: bundle → S3 → application version (processed) → deploy (follow.py) → roll back on failure.

Two bundle kinds, one flow: the source bundle (.ebignore; EB builds the Dockerfile on each instance) or, with
`image=REPOSITORY`, an image built and pushed to ECR here and a bundle naming it by digest (deploy/image.py)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from . import environment, gate, history, image, versions
from .bundle import bundle_files, total_size, write_bundle
from .errors import DEPLOY_FAILED, NEEDS_ATTENTION, DeployError
from .follow import Failed, Policy, deploy, ensure_ready

MAX_BUNDLE_BYTES = 500 * 1024 * 1024  # EB's limit for a source bundle: 500 MiB


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


DIRTY = "-dirty"


def default_label(root: Path, out=print) -> str:
    """The git short SHA, with -dirty when tracked files changed or untracked (not ignored) files exist:
    both would ship in the bundle under a label that names a commit without them. `release` then adds the
    bundle's hash (`content_label`), so each changed tree gets its own label."""
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
    out(f"{sha}{DIRTY}: {len(changed)} paths differ from HEAD ({len(untracked)} untracked): {names}")
    return sha + DIRTY


def content_label(label: str, bundle: Bundle) -> str:
    """A -dirty label made unique per content: `<sha>-dirty-<first 12 hex digits of the bundle's sha256>`."""
    return f"{label}-{bundle.sha256[:12]}" if label.endswith(DIRTY) else label


def bundle_key(app: str, bundle: Bundle) -> str:
    # Content-addressed: the same bundle is uploaded once, whatever its label (so versions share objects).
    return f"{app}/bundles/{bundle.sha256}.zip"


class Progress:
    """Upload progress on stderr: a bar redrawn in place on a terminal; elsewhere (CI logs, files) a line at
    each quarter, since every carriage return there is a line of its own."""

    STEP = 25  # percent between lines when not a terminal

    def __init__(self, total: int, out=sys.stderr):
        self.live = bool(getattr(out, "isatty", lambda: False)())
        self.total, self.done, self.out, self.shown = max(total, 1), 0, out, -1 if self.live else 0

    def __call__(self, chunk: int) -> None:
        self.done += chunk
        percent = min(100, self.done * 100 // self.total)
        if percent == self.shown or not self.live and percent // self.STEP == self.shown // self.STEP:
            return
        self.shown = percent
        if self.live:
            self.out.write(f"\r  upload [{'#' * (percent // 4):<25}] {percent:3d}% of {mib(self.total)}"
                           + ("\n" if percent == 100 else ""))
        else:
            self.out.write(f"  upload {percent // self.STEP * self.STEP:3d}% of {mib(self.total)}\n")
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


def make_bundle(clients, root: Path, label: str, workdir: Path, files: list[str], repository: str | None,
                out) -> Bundle:
    """The bundle of either kind, for `label` (the image, when there is one, pushed first)."""
    destination = workdir / f"{label}.zip"
    if repository is None:
        return build_bundle(root, destination, files)
    reference = image.build_and_push(clients, root, repository, label, out)
    path = image.write_image_bundle(root, destination, reference)
    with open(path, "rb") as reader:
        digest = hashlib.file_digest(reader, "sha256").hexdigest()
    return Bundle(path, path.stat().st_size, digest)


def release(clients, root: Path, app: str, env: str, label: str | None, policy: Policy, workdir: Path,
            out=print, repository: str | None = None, compatibility_gate: bool = False) -> environment.State:
    """`repository`: release by image through that ECR repository; None: the source bundle. `compatibility_gate`:
    first run the serving version's code against the new schema (deploy/gate.py)."""
    eb = clients.eb
    chosen = label or default_label(root, out)
    files = bundle_files(root)
    check_size(root, files)
    if repository is not None:
        image.repository_uri(clients.ecr, repository)  # refused before anything is built
    before = ensure_ready(eb, app, env, policy, out)
    if compatibility_gate:  # the command line's default (--no-gate skips it)
        gate.check_release(root, before.version, out)
    history.note(clients, app, before)  # versions deployed by other means count for rollbacks too
    bundle = make_bundle(clients, root, chosen, workdir, files, repository, out)
    label = chosen if label else content_label(chosen, bundle)
    bundle.path = bundle.path.rename(workdir / f"{label}.zip")
    out(f"bundle {bundle.path.name}: {mib(bundle.size)}, sha256 {bundle.sha256[:16]}…")
    register(clients, app, label, bundle, policy, out)
    state = go_live(clients, app, env, label, before, policy, out)
    out(f"released {label}: {state.line()}" + (f"; http://{state.cname}/" if state.cname else ""))
    return state


def register(clients, app: str, label: str, bundle: Bundle, policy: Policy, out) -> None:
    """The application version for `bundle`: the label checked before any upload, then processed."""
    eb = clients.eb
    reuse = versions.label_holds(eb, app, label, bundle_key(app, bundle))  # before any upload
    bucket, key = upload(clients, app, bundle, out)
    if reuse:
        out(f"version {label} exists with this bundle: reusing it")
    else:
        versions.create(eb, app, label, bucket, key, bundle.sha256)
        out(f"created version {label}")
    versions.wait_processed(eb, app, label, policy.timeout, policy.poll, out)


def go_live(clients, app: str, env: str, label: str, before: environment.State, policy: Policy,
            out) -> environment.State:
    """Deploy a processed version, follow it (and its soak), record the verdict; roll back if it fails."""
    try:
        state = deploy(clients, app, env, label, policy, out)
    except Failed as failure:
        out(f"FAILED: {failure}")
        raise recover(clients, app, env, label, before, failure, policy, out) from None
    history.record(clients, app, env, label, state, policy.accept_warning)
    return state


def recover(clients, app: str, env: str, label: str, before: environment.State, failure: Failed, policy: Policy,
            out) -> DeployError:
    """Roll back to the version that ran healthy before; the error to exit with, whatever happens."""
    eb = clients.eb
    if failure.state.status != "Ready":
        # Nothing can start until EB is done: give the update one more timeout to end.
        out(f"{env} is still {failure.state.status}: waiting up to {policy.timeout:.0f} s for it to end")
        try:
            settled = environment.wait(eb, app, env, lambda s: s.status == "Ready", policy.timeout, policy.poll)
        except environment.TimedOut as still:
            return DeployError(f"{failure}; not rolled back: {env} is still {still.state.status} (the update "
                               f"goes on: `python -m deploy watch` follows it, --abort stops it)", NEEDS_ATTENTION)
        failure = Failed(str(failure), settled)
    history.record_failure(clients, app, env, label, failure.state)
    target = history.rollback_target(clients, app, env, label)
    previous = target.label if target else None
    if not policy.rollback or not previous:
        reason = "--no-rollback" if not policy.rollback else "no earlier healthy version to return to"
        return DeployError(f"{failure} (not rolled back: {reason})", NEEDS_ATTENTION)
    bar = rollback_policy(policy, target)
    if failure.state.version == previous and failure.state.acceptable(bar.accept_warning):
        # EB itself kept or put back the previous version: redeploying it would only cost another update.
        return DeployError(f"{failure}; {env} is back on {previous} and healthy: nothing to roll back",
                           DEPLOY_FAILED)
    out(f"rolling back to {previous}" + (" (accepted at health Warning, so Warning counts)" if bar.accept_warning
                                         and not policy.accept_warning else ""))
    try:
        state = deploy(clients, app, env, previous, bar, out)
    except DeployError as rollback_failure:
        return DeployError(f"{failure}; the rollback to {previous} failed too: {rollback_failure}", NEEDS_ATTENTION)
    history.record(clients, app, env, previous, state, bar.accept_warning)
    return DeployError(f"{failure}; rolled back to {previous}", DEPLOY_FAILED)


def rollback_policy(policy: Policy, target: history.Entry | None) -> Policy:
    """A rollback is judged by the bar its target met here: Warning is accepted when the target was released
    (or last ran) with Warning accepted. No soak: the target has run here before."""
    accepted = policy.accept_warning or bool(target and target.outcome == history.WARNING)
    return replace(policy, soak=0, accept_warning=accepted)


def roll_back(clients, app: str, env: str, to: str | None, policy: Policy, out=print,
              gate_root: Path | None = None) -> environment.State:
    eb = clients.eb
    state = ensure_ready(eb, app, env, policy, out)
    history.note(clients, app, state)
    if to:
        versions.require_deployable(eb, app, to)
        target = history.Entry("", to, history.WARNING if history.accepted_at_warning(clients, app, env, to)
                               else history.HEALTHY, "")
    else:
        target = history.rollback_target(clients, app, env, state.version)
    if not target:
        raise DeployError(f"no other version has run healthy in {env}; pass --to LABEL")
    if gate_root and state.version and state.version != target.label:
        gate.check_rollback(gate_root, state.version, target.label, out)
    bar = rollback_policy(policy, target)
    out(f"rolling {env} back from {state.version} to {target.label}")
    try:
        state = deploy(clients, app, env, target.label, bar, out)
    except Failed as failure:
        history.record_failure(clients, app, env, target.label, failure.state)
        raise DeployError(f"the rollback to {target.label} failed: {failure}", NEEDS_ATTENTION) from None
    history.record(clients, app, env, target.label, state, bar.accept_warning)
    return state
