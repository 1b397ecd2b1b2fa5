"""The local EB resolves and checks option settings as EB documents (localeb/eb_options.py)."""

from __future__ import annotations

import time

import pytest

from deploy.aws import Clients
from deploy.bundle import write_bundle
from deploy.namespaces import DEFAULT_PROCESS, DEPLOYMENT_POLICY, ENVIRONMENT_SETTINGS, RDS_DATABASE
from testkit.tree import ROOT
from tests.deploy.test_readme_eb import client_defaults, ebextensions_options, in_force

APP, ENV = "board", "board-prod"


@pytest.fixture
def clients(server):
    return Clients(region="us-east-1", endpoint_url=server)


@pytest.fixture
def version(clients, tmp_path):
    """This repo's bundle as an application version, as `eb create` uploads it."""
    bucket = clients.eb.create_storage_location()["S3Bucket"]
    clients.s3.put_object(Bucket=bucket, Key="board/v1.zip",
                          Body=write_bundle(ROOT, tmp_path / "bundle.zip").read_bytes())
    clients.eb.create_application(ApplicationName=APP)
    clients.eb.create_application_version(ApplicationName=APP, VersionLabel="v1",
                                          SourceBundle={"S3Bucket": bucket, "S3Key": "board/v1.zip"})
    return "v1"


def launch(clients, version, options: list[dict]) -> list[dict]:
    """Create the environment with these API-level options; its events once the launch is over."""
    clients.eb.create_environment(ApplicationName=APP, EnvironmentName=ENV, VersionLabel=version,
                                  SolutionStackName="64bit Amazon Linux 2023 v4.10.0 running Docker",
                                  OptionSettings=options)
    for _ in range(100):
        [env] = clients.eb.describe_environments(ApplicationName=APP, EnvironmentNames=[ENV])["Environments"]
        if env["Status"] == "Ready":
            break
        time.sleep(0.02)
    return clients.eb.describe_events(ApplicationName=APP, EnvironmentName=ENV)["Events"]


def rds(**values) -> list[dict]:
    return [{"Namespace": RDS_DATABASE, "OptionName": k, "Value": v} for k, v in values.items()]


def test_postgres_without_an_instance_class_fails_the_launch_on_db_t2_micro(clients, version):
    # What the README's old `eb create --database --database.engine postgres` sent.
    events = launch(clients, version, rds(DBEngine="postgres", DBUser="board", DBPassword="secret-password"))
    messages = [e["Message"] for e in events]
    assert any("DBInstanceClass=db.t2.micro, Engine=postgres" in m for m in messages)
    assert any(m.startswith("Create environment operation is complete, but with errors.") for m in messages)


def test_postgres_17_on_db_t4g_micro_launches(clients, version):
    events = launch(clients, version, rds(DBEngine="postgres", DBEngineVersion="17",
                                          DBInstanceClass="db.t4g.micro", DBUser="board", DBPassword="secret-pw"))
    assert "Successfully launched environment: board-prod" in [e["Message"] for e in events]


def test_eb_create_client_defaults_outrank_ebextensions_until_removed(clients, version):
    launch(clients, version, client_defaults(elb_type="application"))
    ours = ebextensions_options()
    settings = in_force(clients.eb, APP, ENV)
    assert settings[(DEPLOYMENT_POLICY, "BatchSize")] == "30" != ours[(DEPLOYMENT_POLICY, "BatchSize")]
    clients.eb.update_environment(EnvironmentName=ENV, OptionsToRemove=[
        {"Namespace": DEPLOYMENT_POLICY, "OptionName": name} for name in ("BatchSize", "BatchSizeType")])
    settings = in_force(clients.eb, APP, ENV)
    assert settings[(DEPLOYMENT_POLICY, "BatchSize")] == ours[(DEPLOYMENT_POLICY, "BatchSize")] == "1"
    assert settings[(DEPLOYMENT_POLICY, "BatchSizeType")] == "Fixed"


def test_matcher_http_code_is_ignored_on_a_classic_load_balancer(clients, version):
    # A classic load balancer asked for at creation (the API outranks .ebextensions' `application`).
    events = launch(clients, version, [{"Namespace": ENVIRONMENT_SETTINGS,
                                        "OptionName": "LoadBalancerType", "Value": "classic"}])
    assert any("MatcherHTTPCode" in e["Message"] and e["Severity"] == "WARN" for e in events)
    assert (DEFAULT_PROCESS, "MatcherHTTPCode") not in in_force(clients.eb, APP, ENV)


def test_the_bundles_ebextensions_choose_the_application_load_balancer(clients, version):
    events = launch(clients, version, [])
    assert not any("MatcherHTTPCode" in e["Message"] for e in events)
    assert in_force(clients.eb, APP, ENV)[(ENVIRONMENT_SETTINGS, "LoadBalancerType")] == "application"
