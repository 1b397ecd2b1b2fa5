"""Which version ran where is kept per environment (one record each), counts versions other tools deployed,
and pruning never deletes a bundle a remaining version uses, nor an environment's rollback target."""

from __future__ import annotations

from deploy import environment, follow, history, provision, prune, release
from tests.deploy.conftest import APP, ENV, POLL, ship, state

STAGING, PROD = ENV, "board-prod"


def back(clients, env=ENV, to=None):
    return release.roll_back(clients, APP, env, to, follow.Policy(timeout=5, poll=POLL), out=lambda line: None)


def test_releasing_to_prod_keeps_stagings_record(ready, tmp_path):
    provision.provision(ready, APP, PROD, out=lambda line: None)
    environment.wait(ready.eb, APP, PROD, lambda s: s.status == "Ready", 5, POLL)
    ship(ready, tmp_path, "v1", env=STAGING)
    ship(ready, tmp_path, "v1", env=PROD)  # the same version, healthy in prod too
    ship(ready, tmp_path, "v2", env=STAGING)
    assert back(ready, STAGING).version == "v1"
    assert [(e.label, e.outcome) for e in history.Record(ready, APP, PROD).entries()] == [("v1", "healthy")]


def test_a_version_deployed_by_another_tool_counts_for_rollback(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb = ready.eb
    source = eb.describe_application_versions(ApplicationName=APP, VersionLabels=["v1"])["ApplicationVersions"][0]
    # What `eb deploy` does: its own label, no tags, no APP_VERSION.
    eb.create_application_version(ApplicationName=APP, VersionLabel="app-eb-1", SourceBundle=source["SourceBundle"])
    eb.update_environment(ApplicationName=APP, EnvironmentName=ENV, VersionLabel="app-eb-1")
    environment.wait(eb, APP, ENV, lambda s: s.status == "Ready" and s.healthy, 5, POLL)
    ship(ready, tmp_path, "v3")
    assert back(ready).version == "app-eb-1"


def test_prune_keeps_a_bundle_the_deployed_version_shares(ready, tmp_path):
    for label in ("v1", "v2", "v3"):  # one tree: one S3 object for all three
        ship(ready, tmp_path, label)
    key = state_source(ready, "v3")
    lines = []
    assert prune.prune(ready, APP, keep=1, yes=True, out=lines.append) == ["v1"]
    assert "deleted v1 (its bundle stays: other versions use it)" in lines
    ready.s3.head_object(Bucket=key[0], Key=key[1])  # still there
    assert state(ready).version == "v3"


def test_the_lifecycle_rule_never_deletes_a_shared_bundle(clients, tmp_path, monkeypatch):
    monkeypatch.setattr(provision, "KEEP_VERSIONS", 2)
    provision.provision(clients, APP, ENV, out=lambda line: None)
    environment.wait(clients.eb, APP, ENV, lambda s: s.status == "Ready", 5, POLL)
    for label in ("v1", "v2", "v3"):  # EB's MaxCountRule deletes v1 when v3 is created
        ship(clients, tmp_path, label)
    labels = {v["VersionLabel"] for v in clients.eb.describe_application_versions(ApplicationName=APP)[
        "ApplicationVersions"]}
    assert labels == {"v2", "v3"}
    bucket, key = state_source(clients, "v3")
    clients.s3.head_object(Bucket=bucket, Key=key)


def test_prune_of_an_unknown_application_is_refused(clients):
    from deploy.cli import main

    assert main(["prune", "--app", "nope", "--region", "us-east-1"]) == 2


def state_source(clients, label) -> tuple[str, str]:
    version = clients.eb.describe_application_versions(ApplicationName=APP, VersionLabels=[label])[
        "ApplicationVersions"][0]
    return version["SourceBundle"]["S3Bucket"], version["SourceBundle"]["S3Key"]
