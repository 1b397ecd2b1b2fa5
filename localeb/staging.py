"""What the platform reads from a staged bundle: the mode, hooks, the Procfile, the port;
`.ebextensions` through deploy/ebextensions.py."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from deploy.ebextensions import Extensions, read_extensions
from deploy.errors import DeployError

from .errors import LocalEBError

COMPOSE_FILES = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")


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
        return "Docker (Dockerfile)"
    if (staging / "Dockerrun.aws.json").is_file():
        raise LocalEBError("Dockerrun.aws.json without a Dockerfile: the local instance only builds Dockerfiles")
    raise LocalEBError("Dockerfile and Dockerrun.aws.json are both missing in the source bundle; "
                      "the Docker platform has nothing to build or run")


def hooks(staging: Path, kind: str, stage: str) -> list[Path]:
    """`.platform/<kind>/<stage>/*` in name order; all of them, executable or not (the caller refuses the latter)."""
    folder = staging / ".platform" / kind / stage
    return sorted(path for path in folder.iterdir() if path.is_file()) if folder.is_dir() else []


def exposed_port(staging: Path) -> int:
    """The first port the Dockerfile EXPOSEs: where the platform's nginx forwards."""
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
