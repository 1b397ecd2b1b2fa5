"""What ran in each environment, when, and how it went: one JSON record per environment in EB's own storage
bucket (`<app>/history/<env>.json`), so finding a rollback target costs a bounded number of calls however many
versions exist, and a release to production never writes staging's record.

Why not elsewhere: environment tags would do, but changing them starts an environment update (the EB CLI
waits for its events after `eb tags`), which a rollback cannot afford; an application tag holds 255
characters; one tag per application version costs one call per version to read. Writes are conditional
(If-Match on the record's ETag), so two writers never lose each other's entries.

Entries are oldest first: `at` (UTC, ISO 8601 with Z), `label`, `outcome` and `health`. Outcomes: `healthy`
(Ok or Info), `warning` (Ready with health Warning, accepted with --accept-warning), `failed` (did not become
or stay healthy). Versions deployed by other means (`eb deploy`, the console) are recorded whenever this tool
sees them running healthy: before a release, on `status`, `watch` and `rollback`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from botocore.exceptions import ClientError

HEALTHY, WARNING, FAILED = "healthy", "warning", "failed"
TARGETS = (HEALTHY, WARNING)  # what a rollback may return to; see `rollback_target`
KEEP = 500  # newest entries kept per environment (a record of some 60 KB)
WRITE_ATTEMPTS = 5
LEGACY_TAG = "board:healthy:"  # the per-version tags this record replaces, read once to seed it
DENIED = ("AccessDenied", "AccessDeniedException")


@dataclass(frozen=True)
class Entry:
    at: str
    label: str
    outcome: str
    health: str


def stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def outcome_of(state) -> str:
    return HEALTHY if state.healthy else WARNING if state.warning else FAILED


class Record:
    """One environment's record: read once, appended to with conditional writes."""

    def __init__(self, clients, app: str, env: str):
        self.clients, self.app, self.env = clients, app, env
        self._bucket: str | None = None

    @property
    def bucket(self) -> str:
        if self._bucket is None:
            self._bucket = self.clients.eb.create_storage_location()["S3Bucket"]
        return self._bucket

    @property
    def key(self) -> str:
        return f"{self.app}/history/{self.env}.json"

    def read(self) -> tuple[list[Entry], str | None]:
        """(entries, ETag), or the entries seeded from the older per-version tags and None."""
        try:
            found = self.clients.s3.get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("NoSuchKey", "404", "NotFound"):
                raise
            return seed_from_tags(self.clients.eb, self.app, self.env), None
        return [Entry(**item) for item in json.loads(found["Body"].read())["entries"]], found["ETag"]

    def entries(self) -> list[Entry]:
        return self.read()[0]

    def add(self, label: str, outcome: str, health: str, only_if_new: bool = False) -> None:
        """Append an entry; with only_if_new, not when the newest entry already says the same."""
        for _ in range(WRITE_ATTEMPTS):
            entries, etag = self.read()
            if only_if_new and entries and (entries[-1].label, entries[-1].outcome) == (label, outcome):
                return
            entries = (entries + [Entry(stamp(), label, outcome, health)])[-KEEP:]
            body = json.dumps({"environment": self.env, "entries": [asdict(e) for e in entries]}, indent=0)
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            try:
                self.clients.s3.put_object(Bucket=self.bucket, Key=self.key, Body=body.encode(),
                                           ContentType="application/json", **condition)
                return
            except ClientError as error:
                if error.response["Error"]["Code"] not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                    raise
        raise RuntimeError(f"the history of {self.env} kept changing under {WRITE_ATTEMPTS} writes")


def seed_from_tags(eb, app: str, env: str) -> list[Entry]:
    """Environments released before the record existed: one pass over the version tags, then never again."""
    marks = []
    for page in eb.get_paginator("describe_application_versions").paginate(ApplicationName=app):
        for version in page["ApplicationVersions"]:
            try:
                tags = eb.list_tags_for_resource(ResourceArn=version["ApplicationVersionArn"])["ResourceTags"]
            except ClientError:
                continue  # deleted meanwhile, or not ours to read
            marks += [Entry(tag["Value"], version["VersionLabel"], HEALTHY, "") for tag in tags
                      if tag["Key"] == LEGACY_TAG + env]
    return sorted(marks, key=lambda entry: entry.at)


def record(clients, app: str, env: str, label: str, state, accepted_warning: bool = False) -> None:
    """After a verdict of success: Warning counts as `warning` only when it was accepted."""
    outcome = outcome_of(state)
    if outcome == WARNING and not accepted_warning:
        outcome = FAILED
    Record(clients, app, env).add(label, outcome, f"{state.health}/{state.health_status or '-'}")


def record_failure(clients, app: str, env: str, label: str, state) -> None:
    """`label` failed here, whatever the environment shows now (EB may have kept the previous version)."""
    Record(clients, app, env).add(label, FAILED, f"{state.health}/{state.health_status or '-'}")


def note(clients, app: str, state) -> None:
    """Record the environment's current version when it is Ready and healthy (best effort: a caller with
    read-only rights, e.g. for `status`, just records nothing)."""
    if state.status != "Ready" or not state.healthy or not state.version:
        return
    try:
        Record(clients, app, state.name).add(state.version, HEALTHY, f"{state.health}/{state.health_status or '-'}",
                                             only_if_new=True)
    except ClientError as error:
        if error.response["Error"]["Code"] not in DENIED:
            raise


def rollback_target(clients, app: str, env: str, current: str | None) -> Entry | None:
    """The newest entry a rollback may return to, other than `current`, whose version still exists.

    "Healthy" for a rollback target is the health the version was accepted at here: Ok, or Warning for a
    version released with --accept-warning. A rollback to it is judged by the same rule (see `bar`)."""
    candidates: list[Entry] = []
    for entry in reversed(Record(clients, app, env).entries()):
        if entry.outcome in TARGETS and entry.label != current and entry.label not in {c.label for c in candidates}:
            candidates.append(entry)
    if not candidates:
        return None
    # One call for all candidates: some may have been deleted (prune, the lifecycle rule).
    labels = [c.label for c in candidates[:100]]
    found = {v["VersionLabel"] for v in clients.eb.describe_application_versions(
        ApplicationName=app, VersionLabels=labels)["ApplicationVersions"]}
    return next((c for c in candidates if c.label in found), None)


def accepted_at_warning(clients, app: str, env: str, label: str) -> bool:
    """Whether `label`'s newest acceptance here was at Warning (then a rollback to it accepts Warning)."""
    for entry in reversed(Record(clients, app, env).entries()):
        if entry.label == label and entry.outcome in TARGETS:
            return entry.outcome == WARNING
    return False


def last_healthy(clients, app: str, env: str, current: str | None) -> str | None:
    target = rollback_target(clients, app, env, current)
    return target.label if target else None
