"""The Docker platform's Dockerrun.aws.json v1 path on a local instance, against a private registry:
Authentication's credentials from S3, Volumes that outlive a deployment, Update "false"."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest
import requests

from deploy.bundle import write_bundle
from deploy.image import config_files
from localeb import Fleet
from localeb import registry as registries
from localeb.docker import docker
from testkit.components import unavailable
from testkit.ports import free_port
from testkit.tree import ROOT

pytestmark = [pytest.mark.docker, pytest.mark.slow]
USER, PASSWORD = "eb", "s3cret-" + uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def private_image(docker_engine, tmp_path_factory):
    """This repo's image in a registry that asks for a password (not ECR: EB needs Authentication for it)."""
    if registries.binary() is None:
        unavailable("REQUIRE_REGISTRY", registries.MISSING)
    registry = registries.start(users={USER: PASSWORD})
    name = f"{registry.host}/board:private"
    config = tmp_path_factory.mktemp("docker-config")
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    try:
        docker("build", "--quiet", "--tag", name, str(ROOT), env={"DOCKER_BUILDKIT": "1"})
        docker("--config", str(config), "push", name)
        docker("rmi", name)  # the instance must pull it
        yield name, token, config
    finally:
        docker("rmi", "--force", name, check=False)
        registry.stop()


def pulled(name: str, log: list[str]) -> bool:
    return any(f"docker pull {name}" in line for line in log)


def image_bundle(folder: Path, name: str, update: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    dockerrun = {"AWSEBDockerrunVersion": "1", "Image": {"Name": name, "Update": update},
                 "Authentication": {"Bucket": "board-registry", "Key": "dockercfg"},
                 "Ports": [{"ContainerPort": "8000"}],
                 "Volumes": [{"HostDirectory": "/var/app/board-data", "ContainerDirectory": "/app/instance"}],
                 "Logging": "/var/log/board"}
    # This repo's .ebextensions and .platform, as a release by image ships them (health check, migration hook).
    return write_bundle(ROOT, folder / f"{update}.zip", config_files(ROOT),
                        generated={"Dockerrun.aws.json": json.dumps(dockerrun).encode()})


def test_a_private_image_is_pulled_with_the_authentication_file_and_its_volume_outlives_a_deployment(
        private_image, tmp_path):
    name, token, config = private_image
    # The older .dockercfg shape (host → auth), as AWS's pages show it beside the config.json one.
    stored = {("board-registry", "dockercfg"): json.dumps({name.split("/")[0]: {"auth": token, "email": ""}})}
    # Cold instances: an image counts as on the instance only once that instance pulled it, as on a new EC2 host.
    with Fleet(instances=1, port=free_port(), echo=lambda line: None, health_wait=60, cold_instances=True) as fleet:
        refused = fleet.deploy(image_bundle(tmp_path / "a", name, "true"), label="v0",
                               storage=lambda bucket, key: b"{}")
        assert not refused.ok and refused.failure.step == "Docker Specific Build Application"
        assert "no basic auth credentials" in refused.failure.output or "unauthorized" in refused.failure.output

        docker("--config", str(config), "pull", name)  # on the shared engine now, but not pulled by the instance
        first = fleet.deploy(image_bundle(tmp_path / "a", name, "false"), label="v1",
                             storage=lambda bucket, key: stored[(bucket, key)].encode())
        assert first.ok, [outcome.log for outcome in first.outcomes]
        assert all(pulled(name, outcome.log) for outcome in first.outcomes)  # none of them had pulled it
        assert requests.get(fleet.url + "/healthz", timeout=5).ok
        engine = fleet.engines[0]
        docker("exec", engine.container, "sh", "-c", "echo kept > /app/instance/marker")

        again = fleet.deploy(image_bundle(tmp_path / "b", name, "false"), label="v2",
                             storage=lambda bucket, key: stored[(bucket, key)].encode())
        assert again.ok, [outcome.log for outcome in again.outcomes]
        # The instance that pulled it keeps it; the additional batch's new instance (the repo's policy) pulls it.
        logs = {outcome.instance: outcome.log for outcome in again.outcomes}
        assert any("Image.Update is false: not pulled" in line for line in logs.pop(engine.instance.id))
        assert logs and all(pulled(name, log) for log in logs.values())
        assert docker("exec", engine.container, "cat", "/app/instance/marker").stdout.strip() == "kept"
        assert requests.get(fleet.url + "/healthz", timeout=5).ok
