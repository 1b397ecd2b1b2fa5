"""Release by image: build once (BuildKit, cached), push to ECR, and a bundle that makes EB pull it.

The bundle holds `Dockerrun.aws.json` (v1, the Docker platform's) naming the
image by digest, `.ebextensions/` and `.platform/`, and no Dockerfile: with no
Dockerfile EB pulls the image instead of building one (docs/eb-platform.md,
"Running an image"). A digest names one image for good, so every instance,
batch and later rollback runs exactly what was pushed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

from botocore.exceptions import ClientError

from .bundle import bundle_files, write_bundle
from .errors import DeployError

DOCKERRUN = "Dockerrun.aws.json"
# What an image bundle carries beside the Dockerrun: how EB configures the instance, never what builds an image.
CONFIG_FOLDERS = (".ebextensions/", ".platform/")
DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")


def docker(*args: str, env: dict | None = None, what: str | None = None) -> str:
    try:
        done = subprocess.run(["docker", *args], capture_output=True, text=True, env={**os.environ, **(env or {})})
    except FileNotFoundError:
        raise DeployError("no docker CLI on PATH: releasing by image builds the image here") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise DeployError(f"{what or 'docker ' + args[0]} failed: {detail[-1] if detail else done.returncode}")
    return done.stdout


def container_port(root: Path) -> int:
    """The first port the Dockerfile EXPOSEs: the one EB's nginx forwards to, named again in the Dockerrun."""
    for line in (Path(root) / "Dockerfile").read_text(encoding="utf-8").splitlines():
        words = line.split()
        if len(words) > 1 and words[0].upper() == "EXPOSE":
            return int(words[1].split("/")[0])
    raise DeployError("the Dockerfile EXPOSEs no port: EB's nginx would not know where to forward")


def repository_uri(ecr, repository: str) -> str:
    try:
        return ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]["repositoryUri"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "RepositoryNotFoundException":
            raise
        raise DeployError(f"no ECR repository {repository!r}: `python -m deploy provision` creates it "
                          "(or pass --repository)") from None


def pushed_digest(ecr, repository: str, tag: str) -> str | None:
    """The digest ECR holds under `tag`, None when the tag is free."""
    try:
        found = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])["imageDetails"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ImageNotFoundException":
            raise
        return None
    return found[0]["imageDigest"] if found else None


def registry_config(ecr, folder: Path) -> None:
    """A docker client configuration holding ECR's short-lived token (the user's own config is left alone)."""
    data = ecr.get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    host = re.sub(r"^https?://", "", data["proxyEndpoint"]).rstrip("/")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    (folder / "config.json").write_text(json.dumps({"auths": {host: {"auth": token}}}))


def build_and_push(clients, root: Path, repository: str, label: str, out=print) -> str:
    """Build the image, push it as `repository:label`; its reference by digest (repository@sha256:…)."""
    uri = repository_uri(clients.ecr, repository)
    tag = f"{uri}:{label}"
    out(f"building {tag} (BuildKit)")
    docker("build", "--quiet", "--tag", tag, str(root), env={"DOCKER_BUILDKIT": "1"}, what="docker build")
    held = pushed_digest(clients.ecr, repository, label)
    if held:
        local = json.loads(docker("image", "inspect", "--format", "{{json .RepoDigests}}", tag) or "[]")
        if f"{uri}@{held}" not in local:
            raise DeployError(f"ECR already holds another image as {repository}:{label} ({held[:19]}…); "
                              "choose another --label")
        out(f"image {label} already in ECR: {held}")
        return f"{uri}@{held}"
    with tempfile.TemporaryDirectory(prefix="ecr-login-") as folder:
        registry_config(clients.ecr, Path(folder))
        out(f"pushing {tag}")
        pushed = docker("--config", folder, "push", tag, what=f"docker push {tag}")
    found = DIGEST.search(pushed)
    if not found:
        raise DeployError(f"docker push {tag} reported no digest")
    digest = found.group(1)
    try:  # what the instances will pull must be in ECR under exactly this digest
        clients.ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])
    except ClientError as error:
        raise DeployError(f"ECR does not list {digest} after the push: {error.response['Error']['Message']}") \
            from None
    out(f"pushed {uri}@{digest}")
    return f"{uri}@{digest}"


def dockerrun(image: str, port: int) -> bytes:
    """Dockerrun.aws.json v1: the image by digest (Update: pull it), the port nginx forwards to."""
    return (json.dumps({"AWSEBDockerrunVersion": "1", "Image": {"Name": image, "Update": "true"},
                        "Ports": [{"ContainerPort": str(port)}]}, indent=2) + "\n").encode()


def config_files(root: Path) -> list[str]:
    return [name for name in bundle_files(root) if name.startswith(CONFIG_FOLDERS)]


def write_image_bundle(root: Path, destination: Path, image: str) -> Path:
    return write_bundle(root, destination, config_files(root),
                        generated={DOCKERRUN: dockerrun(image, container_port(root))})
