"""Which version ran where is kept per environment (one record each), counts versions other tools deployed,
and pruning never deletes a bundle a remaining version uses, nor an environment's rollback target."""

from __future__ import annotations

import json

import pytest

from deploy import environment, follow, history, provision, prune, release
from deploy.errors import DeployError
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


def test_prune_keeps_each_environments_rollback_target(ready, tmp_path):
    for label in ("v1", "v2", "v3", "v4"):
        ship(ready, tmp_path, label)
    lines = []
    assert prune.prune(ready, APP, keep=1, yes=True, out=lines.append) == ["v2", "v1"]
    assert f"keeping v3: the rollback target of {ENV}" in lines
    assert back(ready).version == "v3"  # there is still somewhere to go back to


def test_history_says_what_ran_when_and_how_it_went(ready, tmp_path, capsys):
    from deploy import cli
    from localeb import eb_api

    ship(ready, tmp_path, "v1")
    eb_api.health_after("v2", (0, "Warning"))
    ship(ready, tmp_path, "v2", accept_warning=True)
    eb_api.mark_bad("v3")
    with pytest.raises(DeployError):
        ship(ready, tmp_path, "v3")  # rolled back to v2
    assert cli.main(["history", "--app", APP, "--env", ENV, "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [(e["label"], e["outcome"]) for e in entries] == [("v2", "warning"), ("v3", "failed"),
                                                              ("v2", "warning"), ("v1", "healthy")]
    assert all(e["at"].endswith("Z") for e in entries)
    assert cli.main(["history", "--app", APP, "--env", ENV, "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split()[1:] == ["warning", "Yellow/Warning", "v2"]


def test_status_as_json_for_scripts(ready, tmp_path, capsys):
    from deploy import cli

    ship(ready, tmp_path, "v1")
    assert cli.main(["status", "--app", APP, "--env", ENV, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"] == "v1" and shown["healthy"] is True and shown["health_status"] == "Ok"
    assert shown["url"].startswith("http://") and shown["causes"] == []


def test_history_of_an_unknown_environment_is_refused(ready, capsys):
    from deploy import cli

    assert cli.main(["history", "--app", APP, "--env", "nowhere-env"]) == 2
    assert capsys.readouterr().err.startswith("deploy: no environment 'nowhere-env'")
