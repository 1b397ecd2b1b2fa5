"""Delete old application versions (and their bundles), never one an environment runs."""

from __future__ import annotations


def plan(eb, app: str, keep: int) -> tuple[list[str], list[str]]:
    """(labels to delete, labels kept because deployed), newest versions kept first."""
    versions = [v for page in eb.get_paginator("describe_application_versions").paginate(ApplicationName=app)
                for v in page["ApplicationVersions"]]
    versions.sort(key=lambda v: v["DateCreated"], reverse=True)
    deployed = {e.get("VersionLabel") for e in eb.describe_environments(ApplicationName=app)["Environments"]
                if e["Status"] != "Terminated"}
    old = [v["VersionLabel"] for v in versions[keep:]]
    return [label for label in old if label not in deployed], [label for label in old if label in deployed]


def prune(eb, app: str, keep: int, yes: bool, out=print) -> list[str]:
    doomed, spared = plan(eb, app, keep)
    for label in spared:
        out(f"keeping {label}: deployed in an environment")
    if not doomed:
        out(f"nothing to prune: {app} has at most {keep} versions besides deployed ones")
        return []
    for label in doomed:
        if yes:
            eb.delete_application_version(ApplicationName=app, VersionLabel=label, DeleteSourceBundle=True)
        out(f"{'deleted' if yes else 'would delete'} {label}")
    if not yes:
        out(f"dry run: {len(doomed)} versions would be deleted; run again with --yes to delete them")
    return doomed
