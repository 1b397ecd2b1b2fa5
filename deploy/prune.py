"""Delete old application versions, never one an environment runs or would roll back to, and never a bundle
still in use.

Bundles are content-addressed (one S3 object for every label with the same
content), so a version's bundle is deleted with it only when no remaining
version points at it; the lifecycle rule keeps S3 objects for the same reason
(see provision.py), and prune removes bundles no version uses any more once
they are an hour old (younger ones may belong to a release in progress).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from . import history

ORPHAN_AGE = timedelta(hours=1)


def all_versions(eb, app: str) -> list[dict]:
    found = [v for page in eb.get_paginator("describe_application_versions").paginate(ApplicationName=app)
             for v in page["ApplicationVersions"]]
    return sorted(found, key=lambda v: v["DateCreated"], reverse=True)


def source(version: dict) -> tuple[str, str]:
    bundle = version.get("SourceBundle") or {}
    return bundle.get("S3Bucket", ""), bundle.get("S3Key", "")


def protected(clients, app: str) -> dict[str, str]:
    """label -> why it stays: per live environment, the version it runs and the one it would roll back to."""
    keep: dict[str, str] = {}
    for env in clients.eb.describe_environments(ApplicationName=app)["Environments"]:
        if env["Status"] in ("Terminated", "Terminating"):
            continue
        name, running = env["EnvironmentName"], env.get("VersionLabel")
        target = history.last_healthy(clients, app, name, running)
        if target:
            keep.setdefault(target, f"the rollback target of {name}")
        if running:
            keep[running] = f"deployed in {name}"
    return keep


def plan(clients, app: str, keep: int) -> tuple[list[dict], dict[str, str], list[dict]]:
    """(versions to delete, labels kept beyond `keep` and why, versions that remain)."""
    versions = all_versions(clients.eb, app)
    spare = protected(clients, app)
    old = versions[keep:]
    doomed = [v for v in old if v["VersionLabel"] not in spare]
    spared = {v["VersionLabel"]: spare[v["VersionLabel"]] for v in old if v["VersionLabel"] in spare}
    remaining = [v for v in versions if v not in doomed]
    return doomed, spared, remaining


def orphans(s3, app: str, remaining: list[dict], now: datetime) -> list[tuple[str, str]]:
    used = {source(v) for v in remaining}
    buckets = {bucket for bucket, _ in used} or set()
    found = []
    for bucket in buckets:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{app}/bundles/"):
            found += [(bucket, item["Key"]) for item in page.get("Contents", [])
                      if (bucket, item["Key"]) not in used and now - item["LastModified"] > ORPHAN_AGE]
    return found


def prune(clients, app: str, keep: int, yes: bool, out=print) -> list[str]:
    eb = clients.eb
    doomed, spared, remaining = plan(clients, app, keep)
    for label, why in spared.items():
        out(f"keeping {label}: {why}")
    in_use = {source(v) for v in remaining}
    left = Counter(source(v) for v in doomed)
    for version in doomed:
        label, where = version["VersionLabel"], source(version)
        left[where] -= 1
        # The last doomed version holding an object no remaining version uses takes it along.
        with_bundle = where not in in_use and left[where] == 0
        if yes:
            eb.delete_application_version(ApplicationName=app, VersionLabel=label, DeleteSourceBundle=with_bundle)
        shared = "" if with_bundle else " (its bundle stays: other versions use it)"
        out(f"{'deleted' if yes else 'would delete'} {label}{shared}")
    unused = orphans(clients.s3, app, remaining, datetime.now(UTC))
    for bucket, key in unused:
        if yes:
            clients.s3.delete_object(Bucket=bucket, Key=key)
        out(f"{'deleted' if yes else 'would delete'} unused bundle s3://{bucket}/{key}")
    if not doomed and not unused:
        out(f"nothing to prune: {app} has at most {keep} versions besides deployed ones and rollback targets")
    elif not yes:
        out(f"dry run: {len(doomed)} versions and {len(unused)} unused bundles would be deleted; "
            "run again with --yes to delete them")
    return [v["VersionLabel"] for v in doomed]
