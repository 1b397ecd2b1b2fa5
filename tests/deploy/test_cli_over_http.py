"""`python -m deploy` as a user runs it, against a local AWS over HTTP (moto server + the EB extension)."""

from __future__ import annotations

import os
import subprocess
import sys

import boto3
import pytest

from localeb import eb_api
from testkit.tree import ROOT

pytestmark = pytest.mark.slow
APP, ENV = "board", "board-http"


def cli(endpoint: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_EC2_METADATA_DISABLED": "true", **(env or {})})
    return subprocess.run([sys.executable, "-m", "deploy", "--region", "us-east-1", "--endpoint-url", endpoint,
                           "--poll", "0.05", *args], cwd=ROOT, env=environ, capture_output=True, text=True,
                          timeout=120)


def environment(endpoint: str) -> dict:
    eb = boto3.client("elasticbeanstalk", region_name="us-east-1", endpoint_url=endpoint)
    return eb.describe_environments(ApplicationName=APP, EnvironmentNames=[ENV])["Environments"][0]


def test_provision_release_fail_and_roll_back_over_http(server):
    steps = [("provision", "--app", APP, "--env", ENV), ("release", "--app", APP, "--env", ENV, "--label", "v1"),
             ("release", "--app", APP, "--env", ENV, "--label", "v2", "--no-gate")]
    for step in steps:
        result = cli(server, *step)
        assert result.returncode == 0, result.stdout + result.stderr
        if step[-1] == "v1":
            assert "100% of" in result.stderr  # the progress bar
    assert (environment(server)["VersionLabel"], environment(server)["Health"]) == ("v2", "Green")
    again = cli(server, "release", "--app", APP, "--env", ENV, "--label", "v2-again", "--no-gate")
    assert again.returncode == 0 and "bundle already in s3://" in again.stdout  # same content: no second upload
    assert "100% of" not in again.stderr

    eb_api.mark_bad("v3")
    failed = cli(server, "release", "--app", APP, "--env", ENV, "--label", "v3", "--no-gate")
    assert failed.returncode == 1
    assert "Failed to deploy application version v3" in failed.stdout
    assert failed.stderr.strip().splitlines()[-1].startswith("deploy: v3 did not become healthy")
    assert "Traceback" not in failed.stderr
    assert (environment(server)["VersionLabel"], environment(server)["Health"]) == ("v2-again", "Green")

    status = cli(server, "status", "--app", APP, "--env", ENV)
    assert status.returncode == 0 and "version v2-again" in status.stdout and "board-http.us-east-1" in status.stdout


def test_unknown_environment_and_missing_credentials_are_one_line_each(server):
    unknown = cli(server, "status", "--app", APP, "--env", "nowhere-env")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "deploy: no environment 'nowhere-env' in application 'board' " \
                                     "(check --app, --env and --region)"
    environ = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environ.update({"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
                    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
    missing = subprocess.run([sys.executable, "-m", "deploy", "--region", "us-east-1", "--endpoint-url", server,
                              "status", "--app", APP, "--env", "nowhere-env"], cwd=ROOT, env=environ,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2
    assert missing.stderr.strip().startswith("deploy: no AWS credentials found")


def test_bundle_command_prints_path_size_and_hash_and_is_deterministic(tmp_path):
    outputs = [subprocess.run([sys.executable, "-m", "deploy", "bundle", "--output", str(tmp_path / f"{n}.zip")],
                              cwd=ROOT, capture_output=True, text=True, check=True).stdout.splitlines()
               for n in (1, 2)]
    assert outputs[0][1:] == outputs[1][1:]
    assert outputs[0][2].startswith("sha256 ") and outputs[0][1].endswith(" bytes")
