"""Which version ran healthy in which environment, kept on EB as tags of the application version.

One tag per environment (`board:healthy:<env>` = UTC time, ISO 8601, sortable), so a release to
production never overwrites staging's record. Versions deployed by other
means (`eb deploy`, the console) are recorded whenever this tool sees them
running healthy: before a release, on `status`, `watch` and `rollback`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.exceptions import ClientError

PREFIX = "board:healthy:"


def tag_key(env: str) -> str:
    return PREFIX + env


def mark_healthy(eb, app: str, env: str, label: str | None) -> None:
    if not label:
        return
    found = eb.describe_application_versions(ApplicationName=app, VersionLabels=[label])["ApplicationVersions"]
    if not found:
        return  # e.g. the sample application EB launches with
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    eb.update_tags_for_resource(ResourceArn=found[0]["ApplicationVersionArn"],
                                TagsToAdd=[{"Key": tag_key(env), "Value": stamp}])


def note(eb, app: str, state) -> None:
    """Record the environment's current version when it is Ready and healthy (best effort: a caller with
    read-only rights, e.g. for `status`, just records nothing)."""
    if state.status == "Ready" and state.healthy:
        try:
            mark_healthy(eb, app, state.name, state.version)
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("AccessDenied", "AccessDeniedException"):
                raise


def healthy_in(eb, app: str, env: str) -> list[tuple[str, str]]:
    """(UTC time, label) of every version that ran healthy in `env`, newest first."""
    marks = []
    for page in eb.get_paginator("describe_application_versions").paginate(ApplicationName=app):
        for version in page["ApplicationVersions"]:
            try:
                tags = eb.list_tags_for_resource(ResourceArn=version["ApplicationVersionArn"])["ResourceTags"]
            except ClientError:
                continue  # deleted meanwhile
            marks += [(tag["Value"], version["VersionLabel"]) for tag in tags if tag["Key"] == tag_key(env)]
    return sorted(marks, reverse=True)


def previous_healthy_label(eb, app: str, env: str, current: str | None) -> str | None:
    """The version that most recently ran healthy in `env`, other than `current`."""
    return next((label for _, label in healthy_in(eb, app, env) if label != current), None)
