"""How Elastic Beanstalk reads a bundle's `.ebextensions/*.config`: one reader for the local instance and
`provision` alike.

The files are YAML (JSON is YAML too), processed in file-name order; later files win for the same option.
Within a file, `files` are written before `commands` run, and commands and container_commands run in the
alphabetical order of their names. Option values are kept as the text EB stores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import DeployError


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
