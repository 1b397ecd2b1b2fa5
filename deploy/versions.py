"""Application versions: the label checked before any upload, created, and waited for until processed.

EB processes a version created with Process=True (it validates `.ebextensions`)
in the background: the version is PROCESSING, then PROCESSED or FAILED, and
UpdateEnvironment refuses it until then. boto3 has no waiter for this (the EB
CLI polls in `wait_for_processed_app_versions`), so this polls too.
"""

from __future__ import annotations

import time

from .errors import DEPLOY_FAILED, DeployError

DEPLOYABLE = {"PROCESSED", "UNPROCESSED"}


def find(eb, app: str, label: str) -> dict | None:
    found = eb.describe_application_versions(ApplicationName=app, VersionLabels=[label])["ApplicationVersions"]
    return found[0] if found else None


def require_application(eb, app: str) -> None:
    if not eb.describe_applications(ApplicationNames=[app])["Applications"]:
        raise DeployError(f"no application {app!r} (check --app and --region)")


def label_holds(eb, app: str, label: str, key: str) -> bool:
    """Whether `label` already holds the bundle at `key` (reuse it); refuses a label holding another bundle,
    before anything is uploaded."""
    existing = find(eb, app, label)
    if existing is None:
        return False
    source = existing.get("SourceBundle", {})
    if source.get("S3Key") == key:
        return True
    raise DeployError(f"version {label} already exists with a different bundle "
                      f"(s3://{source.get('S3Bucket')}/{source.get('S3Key')}); choose another --label")


def create(eb, app: str, label: str, bucket: str, key: str, sha256: str) -> None:
    eb.create_application_version(ApplicationName=app, VersionLabel=label, Process=True,
                                  Description=f"sha256:{sha256}"[:200],
                                  SourceBundle={"S3Bucket": bucket, "S3Key": key})


def failure_reason(eb, app: str, label: str) -> str:
    """EB leaves FAILED's reason in the application's events, not on the version."""
    events = eb.describe_events(ApplicationName=app, VersionLabel=label, Severity="ERROR", MaxRecords=10)["Events"]
    return events[0]["Message"] if events else "EB gave no reason; check the bundle's .ebextensions files"


def wait_processed(eb, app: str, label: str, timeout: float, poll: float, out=print,
                   clock=time.monotonic, sleep=time.sleep) -> None:
    deadline, said = clock() + timeout, False
    while True:
        version = find(eb, app, label)
        if version is None:
            raise DeployError(f"version {label} disappeared while being processed (deleted by a lifecycle rule?)",
                              DEPLOY_FAILED)
        status = version.get("Status", "UNPROCESSED")
        if status in DEPLOYABLE:
            if said:
                out(f"version {label} is processed")
            return
        if status == "FAILED":
            raise DeployError(f"EB could not process version {label}: {failure_reason(eb, app, label)}; "
                              "the environment was not touched", DEPLOY_FAILED)
        if clock() >= deadline:
            raise DeployError(f"version {label} still {status} after {timeout:.0f} s; the environment was not "
                              "touched", DEPLOY_FAILED)
        if not said:
            out(f"waiting for EB to process version {label} ({status})")
            said = True
        sleep(poll)


def require_deployable(eb, app: str, label: str) -> None:
    """For `rollback --to`: the label must exist and be deployable (exit 2 otherwise)."""
    version = find(eb, app, label)
    if version is None:
        raise DeployError(f"no version {label!r} in application {app!r}")
    if version.get("Status", "UNPROCESSED") not in DEPLOYABLE:
        raise DeployError(f"version {label} is {version['Status']} and cannot be deployed")
