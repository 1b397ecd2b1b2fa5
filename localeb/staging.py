"""What the platform reads from a staged bundle: the mode, hooks, the Procfile, the port;
`.ebextensions` through deploy/ebextensions.py."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

from deploy.ebextensions import Extensions, read_extensions
from deploy.errors import DeployError

from .errors import LocalEBError

COMPOSE_FILES = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")
DOCKERRUN = "Dockerrun.aws.json"
DOCKERFILE_MODE = "Docker (Dockerfile)"
DOCKERRUN_MODE = "Docker (Dockerrun.aws.json v1)"


def bundle_extensions(folder: Path) -> Extensions:
    """The staged bundle's `.ebextensions`; a file EB would refuse fails the deployment with EB's message."""
    try:
        return read_extensions(folder)
    except DeployError as error:
        raise LocalEBError(str(error)) from None


def unzip(bundle: Path, destination: Path) -> Path:
    """Extract the bundle keeping each file's mode (the executable bit decides whether a hook runs)."""
    destination.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            target = destination / info.filename
            if not target.resolve().is_relative_to(destination.resolve()):
                raise LocalEBError(f"the bundle holds a path outside its root: {info.filename}")
            archive.extract(info, destination)
            mode = (info.external_attr >> 16) & 0o7777
            if mode and not info.is_dir():
                target.chmod(mode)
    return destination


def mode(staging: Path) -> str:
    """The Docker platform's mode: Docker Compose with a compose file at the root, else one Dockerfile or
    Dockerrun.aws.json; without either the platform has nothing to run."""
    for name in COMPOSE_FILES:
        if (staging / name).is_file():
            return f"Docker Compose (found {name} at the bundle's root)"
    if (staging / "Dockerfile").is_file():
        return DOCKERFILE_MODE  # a Dockerrun.aws.json beside it still gives the ports, volumes and logging
    if (staging / DOCKERRUN).is_file():
        dockerrun(staging)  # refused here, before any step, when it names no image
        return DOCKERRUN_MODE
    raise LocalEBError("Dockerfile and Dockerrun.aws.json are both missing in the source bundle; "
                      "the Docker platform has nothing to build or run")


def dockerrun(staging: Path) -> dict:
    """Dockerrun.aws.json v1 as the Docker platform reads it (docs/eb-platform.md, "Running an image"); {} when
    the bundle has none. Values are strings or numbers alike ("8000" and 8000 both appear in AWS's examples)."""
    path = staging / DOCKERRUN
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise LocalEBError(f"{DOCKERRUN} is not valid JSON: {error}") from None
    if not isinstance(data, dict) or str(data.get("AWSEBDockerrunVersion", "")) != "1":
        raise LocalEBError(f"{DOCKERRUN}: AWSEBDockerrunVersion must be \"1\" on the Docker platform "
                           "(version 2 is the ECS platform's)")
    image = data.get("Image")
    if not (staging / "Dockerfile").is_file():
        if not isinstance(image, dict) or not str(image.get("Name", "")).strip():
            raise LocalEBError(f"{DOCKERRUN} names no Image.Name and the bundle has no Dockerfile: nothing to run")
        if not container_ports(data):
            raise LocalEBError(f"{DOCKERRUN}: Ports (a ContainerPort) is required with Image")
    return data


def container_ports(data: dict) -> list[int]:
    ports = data.get("Ports") if isinstance(data.get("Ports"), list) else []
    found = []
    for entry in ports:
        try:
            found.append(int(str(entry["ContainerPort"]).split("/")[0]))
        except (TypeError, KeyError, ValueError):
            raise LocalEBError(f"{DOCKERRUN}: each Ports entry needs a numeric ContainerPort") from None
    return found


def hooks(staging: Path, kind: str, stage: str) -> list[Path]:
    """`.platform/<kind>/<stage>/*` in name order; all of them, executable or not (the platform sets the bit)."""
    folder = staging / ".platform" / kind / stage
    return sorted(path for path in folder.iterdir() if path.is_file()) if folder.is_dir() else []


def exposed_port(staging: Path) -> int:
    """Where the platform's nginx forwards: Dockerrun.aws.json's first ContainerPort, else the first port the
    Dockerfile EXPOSEs."""
    ports = container_ports(dockerrun(staging))
    if ports:
        return ports[0]
    for line in (staging / "Dockerfile").read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words and words[0].upper() == "EXPOSE" and len(words) > 1:
            return int(words[1].split("/")[0])
    raise LocalEBError("the Dockerfile EXPOSEs no port: the platform's nginx would not know where to forward")


def procfile(staging: Path) -> dict[str, str]:
    """The Python platform's processes: `name: command` lines of the Procfile; `web` is the one nginx serves."""
    path = staging / "Procfile"
    if not path.is_file():
        raise LocalEBError("no Procfile in the source bundle: the local Python platform runs the Procfile's web "
                          "process (EB would fall back to WSGIPath, application.py)")
    processes = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, separator, command = line.partition(":")
            if not separator or not re.fullmatch(r"[A-Za-z0-9_]+", name.strip()) or not command.strip():
                raise LocalEBError(f"Procfile: {line.strip()!r} is not `name: command`")
            processes[name.strip()] = command.strip()
    if "web" not in processes:
        raise LocalEBError("Procfile: no `web` process, the one the platform's nginx forwards to")
    return processes
