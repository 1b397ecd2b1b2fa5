"""Amazon ECR for moto, with a real registry holding the images.

moto's ECR keeps repositories and image records but no image bytes, and its
repository URIs and `GetAuthorizationToken` name `ACCOUNT.dkr.ecr.REGION.amazonaws.com`,
which no docker client here reaches. With `use_registry("127.0.0.1:PORT")` (a
CNCF distribution server, localeb/registry.py): repository URIs and the
token's proxyEndpoint name that registry, so `docker login`/`push`/`pull`
work as against ECR; `DescribeImages` and `BatchGetImage` first record every
tag the registry holds for the repository, under the digest the registry
reports (the manifest's, as ECR reports it), so lookups by digest answer
what was really pushed. Without a registry moto answers as it does stock.

Like eb_api.py, it lives outside any `moto*` module (moto's error serializer).
"""

from __future__ import annotations

import requests
from moto.ecr.models import ECRBackend, Image, Repository
from moto.ecr.responses import ECRResponse

MANIFESTS = ", ".join(["application/vnd.docker.distribution.manifest.v2+json",
                       "application/vnd.docker.distribution.manifest.list.v2+json",
                       "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json"])
state: dict[str, str | None] = {"registry": None}  # host:port of the registry behind ECR


def use_registry(host: str | None) -> None:
    """Put the registry at `host` (e.g. 127.0.0.1:5000) behind ECR; None returns to moto's own answers."""
    state["registry"] = host


def repository_uri(repository: Repository) -> str:
    host = state["registry"]
    return f"{host}/{repository.name}" if host else repository._board_moto_uri


def sync(repository: Repository) -> None:
    """Record in moto what the registry holds for `repository` (tags, manifests, digests)."""
    host = state["registry"]
    if not host:
        return
    listed = requests.get(f"http://{host}/v2/{repository.name}/tags/list", timeout=10)
    if listed.status_code == 404:
        return
    listed.raise_for_status()
    for tag in listed.json().get("tags") or []:
        answer = requests.get(f"http://{host}/v2/{repository.name}/manifests/{tag}", headers={"Accept": MANIFESTS},
                              timeout=10)
        answer.raise_for_status()
        digest = answer.headers["Docker-Content-Digest"]
        known = next((image for image in repository.images if image.get_image_digest() == digest), None)
        if known is None:
            for image in repository.images:  # a tag moves to the newest image pushed under it
                if tag in image.image_tags:
                    image.image_tags.remove(tag)
                    image.image_tag = image.image_tags[0] if image.image_tags else None
            repository.images.append(Image(repository.account_id, tag, answer.text, repository.name,
                                           answer.headers.get("Content-Type"), digest, repository.registry_id))
        elif tag not in known.image_tags:
            known.update_tag(tag)


def synced(method):
    def wrapper(self, repository_name, registry_id=None, *args, **kwargs):
        sync(self._get_repository(repository_name, registry_id))
        return method(self, repository_name, registry_id, *args, **kwargs)
    return wrapper


def get_authorization_token(self):
    result = self._board_moto_get_authorization_token()
    if state["registry"]:
        for data in result.result["authorizationData"]:  # the registry has no authentication: any login passes
            data["proxyEndpoint"] = f"http://{state['registry']}"
    return result


def install() -> None:
    """Add the extension to moto's ECR classes (idempotent)."""
    if getattr(ECRResponse, "_board_extended", False):
        return
    Repository._board_moto_uri = property(lambda self: self.__dict__["uri"])
    Repository.uri = property(repository_uri, lambda self, value: self.__dict__.__setitem__("uri", value))
    ECRBackend.describe_images = synced(ECRBackend.describe_images)
    ECRBackend.batch_get_image = synced(ECRBackend.batch_get_image)
    ECRResponse._board_moto_get_authorization_token = ECRResponse.get_authorization_token
    ECRResponse.get_authorization_token = get_authorization_token
    ECRResponse._board_extended = True


install()
