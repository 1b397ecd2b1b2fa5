"""What the platform reads from a staged bundle: the mode, `.ebextensions`, hooks.

`.ebextensions/*.config` files are YAML (JSON is YAML too), processed in file-name
order; within a file, `files` are written before `commands` run, and commands
and container_commands run in the alphabetical order of their names.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import DeployError

ENVIRONMENT = "aws:elasticbeanstalk:application:environment"
SECRETS = "aws:elasticbeanstalk:application:environmentsecrets"
PROCESS = "aws:elasticbeanstalk:environment:process:default"
STATIC_FILES = "aws:elasticbeanstalk:environment:proxy:staticfiles"
COMPOSE_FILES = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")


@dataclass
class Command:
    name: str
    command: str | list
    cwd: str | None = None
    env: dict = field(default_factory=dict)
    test: str | None = None
    ignore_errors: bool = False
    leader_only: bool = False


@dataclass
class Extensions:
    options: dict[str, dict[str, str]] = field(default_factory=dict)
    files: dict[str, dict] = field(default_factory=dict)
    commands: list[Command] = field(default_factory=list)
    container_commands: list[Command] = field(default_factory=list)


def unzip(bundle: Path, destination: Path) -> Path:
    """Extract the bundle keeping each file's mode (the executable bit decides whether a hook runs)."""
    destination.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            target = destination / info.filename
            if not target.resolve().is_relative_to(destination.resolve()):
                raise DeployError(f"the bundle holds a path outside its root: {info.filename}")
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
        raise DeployError("Dockerrun.aws.json without a Dockerfile: the local instance only builds Dockerfiles")
    raise DeployError("Dockerfile and Dockerrun.aws.json are both missing in the source bundle; "
                      "the Docker platform has nothing to build or run")


def _option_settings(value) -> dict[str, dict[str, str]]:
    settings: dict[str, dict[str, str]] = {}
    if isinstance(value, dict):
        for namespace, options in value.items():
            for name, option in (options or {}).items():
                settings.setdefault(namespace, {})[name] = _text(option)
    elif isinstance(value, list):
        for item in value:
            settings.setdefault(item["namespace"], {})[item["option_name"]] = _text(item.get("value"))
    return settings


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _commands(section: dict | None) -> list[Command]:
    return [Command(name, spec["command"], spec.get("cwd"), {k: _text(v) for k, v in (spec.get("env") or {}).items()},
                    spec.get("test"), _flag(spec.get("ignoreErrors")), _flag(spec.get("leader_only")))
            for name, spec in sorted((section or {}).items())]


def _flag(value) -> bool:
    return value is True or str(value).lower() == "true"


def read_extensions(staging: Path) -> Extensions:
    found = Extensions()
    folder = staging / ".ebextensions"
    for path in sorted(folder.glob("*.config")) if folder.is_dir() else []:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise DeployError(f"The configuration file .ebextensions/{path.name} in application version is "
                              f"invalid YAML or JSON: {error}") from None
        for namespace, options in _option_settings(document.get("option_settings")).items():
            found.options.setdefault(namespace, {}).update(options)
        found.files.update(document.get("files") or {})
        found.commands += _commands(document.get("commands"))
        found.container_commands += _commands(document.get("container_commands"))
    return found


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
    raise DeployError("the Dockerfile EXPOSEs no port: the platform's nginx would not know where to forward")


def procfile(staging: Path) -> dict[str, str]:
    """The Python platform's processes: `name: command` lines of the Procfile; `web` is the one nginx serves."""
    path = staging / "Procfile"
    if not path.is_file():
        raise DeployError("no Procfile in the source bundle: the local Python platform runs the Procfile's web "
                          "process (EB would fall back to WSGIPath, application.py)")
    processes = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, separator, command = line.partition(":")
            if not separator or not re.fullmatch(r"[A-Za-z0-9_]+", name.strip()) or not command.strip():
                raise DeployError(f"Procfile: {line.strip()!r} is not `name: command`")
            processes[name.strip()] = command.strip()
    if "web" not in processes:
        raise DeployError("Procfile: no `web` process, the one the platform's nginx forwards to")
    return processes
