"""`python -m deploy release --image` against local AWS (moto's ECR over a real registry) whose environment runs
on two local EB instances: they pull the pushed image by digest, migrate with it, and serve it."""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest
import requests

from localeb import Fleet, eb_api
from localeb.docker import docker
from testkit.ports import free_port
from testkit.tree import copy_tree, migration_head

from .test_release import APP, cli

pytestmark = [pytest.mark.docker, pytest.mark.slow]
ENV = "board-image"


def bundle_of(server: str, label: str) -> zipfile.ZipFile:
    eb = boto3.client("elasticbeanstalk", region_name="us-east-1", endpoint_url=server)
    source = eb.describe_application_versions(ApplicationName=APP, VersionLabels=[label])[
        "ApplicationVersions"][0]["SourceBundle"]
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=server)
    data = s3.get_object(Bucket=source["S3Bucket"], Key=source["S3Key"])["Body"].read()
    return zipfile.ZipFile(io.BytesIO(data))


def test_a_release_by_image_runs_the_pushed_image_on_two_instances_and_migrates_with_it(
        docker_engine, registry, server, tmp_path):
    tree = copy_tree(tmp_path / "board")
    with Fleet(instances=2, port=free_port(), echo=lambda line: None, health_wait=60) as fleet:
        eb_api.attach(ENV, fleet)
        url = eb_api.stand_in_database_url(fleet)
        provisioned = cli(server, tree, "provision", "--app", APP, "--env", ENV, "--database-url", url)
        assert provisioned.returncode == 0, provisioned.stdout + provisioned.stderr
        released = cli(server, tree, "release", "--image", "--app", APP, "--env", ENV, "--label", "v1")
        assert released.returncode == 0, released.stdout + released.stderr

        # The version is a Dockerrun.aws.json naming the image by digest, with no Dockerfile to build.
        bundle = bundle_of(server, "v1")
        assert "Dockerfile" not in bundle.namelist() and "board/__init__.py" not in bundle.namelist()
        assert ".platform/hooks/predeploy/01_migrate.py" in bundle.namelist()
        name = json.loads(bundle.read("Dockerrun.aws.json"))["Image"]["Name"]
        repository, digest = name.split("@")
        assert repository == f"{registry.host}/{APP}" and digest.startswith("sha256:")
        ecr = boto3.client("ecr", region_name="us-east-1", endpoint_url=server)
        [pushed] = ecr.describe_images(repositoryName=APP, imageIds=[{"imageDigest": digest}])["imageDetails"]
        assert pushed["imageTags"] == ["v1"]

        # Both instances pulled that image and run it; none built one.
        pulled = docker("image", "inspect", "--format", "{{.Id}}", name).stdout.strip()
        assert [engine.image for engine in fleet.engines] == [pulled, pulled]
        for engine in fleet.engines:
            log = engine.instance.run("cat /var/log/eb-engine.log", workdir="/").text
            assert f"docker pull {name}" in log and "docker build" not in log
        # The migration ran in the pulled image, and the schema it made is the one this commit ships.
        migrated = fleet.engines[0].instance.run("cat /var/log/board-migrate.log", workdir="/").text
        assert f"migrating with {name}" in migrated
        shown = requests.get(fleet.url + "/version", timeout=5).json()
        assert shown == {"version": "v1", "schema": migration_head()}
