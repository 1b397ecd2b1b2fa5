"""What the local instance reads from a staged bundle, as the platform reads it."""

from __future__ import annotations

import zipfile

import pytest

from board.config import CONTAINER_PORT
from deploy.bundle import write_bundle
from deploy.ebextensions import ENVIRONMENT
from localeb.errors import LocalEBError
from localeb.staging import bundle_extensions, exposed_port, mode, unzip
from testkit.tree import ROOT


def test_ebextensions_apply_in_file_name_order_and_commands_in_name_order(tmp_path):
    folder = tmp_path / ".ebextensions"
    folder.mkdir()
    (folder / "02-later.config").write_text(
        "option_settings:\n  - namespace: aws:elasticbeanstalk:application:environment\n"
        "    option_name: LEVEL\n    value: later\n"
        "container_commands:\n  b_second: {command: 'true'}\n  a_first: {command: 'true', leader_only: true}\n")
    (folder / "01-first.config").write_text(
        '{"option_settings": {"aws:elasticbeanstalk:application:environment": {"LEVEL": "first", "ON": true}}}')
    (folder / "03-ignored.config.example").write_text("option_settings: {}\n")
    found = bundle_extensions(tmp_path)
    assert found.options[ENVIRONMENT] == {"LEVEL": "later", "ON": "true"}
    assert [(c.name, c.leader_only) for c in found.container_commands] == [("a_first", True), ("b_second", False)]


def test_invalid_yaml_names_the_file(tmp_path):
    (tmp_path / ".ebextensions").mkdir()
    (tmp_path / ".ebextensions" / "01-bad.config").write_text("option_settings: [\n")
    with pytest.raises(LocalEBError, match="01-bad.config"):
        bundle_extensions(tmp_path)


def test_this_repos_bundle_is_docker_mode_on_its_exposed_port(tmp_path):
    assert mode(ROOT).startswith("Docker Compose")  # the checkout has compose.yml ...
    staged = unzip(write_bundle(ROOT, tmp_path / "bundle.zip"), tmp_path / "staging")
    assert mode(staged) == "Docker (Dockerfile)"  # ... which .ebignore keeps out of the bundle
    assert exposed_port(staged) == CONTAINER_PORT


def test_unzip_keeps_the_executable_bit_and_refuses_paths_outside(tmp_path):
    bundle = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        info = zipfile.ZipInfo(".platform/hooks/predeploy/01.sh")
        info.external_attr = 0o100755 << 16
        archive.writestr(info, "#!/bin/bash\n")
    staged = unzip(bundle, tmp_path / "staging")
    assert (staged / ".platform/hooks/predeploy/01.sh").stat().st_mode & 0o111
    with zipfile.ZipFile(bundle, "a") as archive:
        archive.writestr("../outside", "x")
    with pytest.raises(LocalEBError, match="outside"):
        unzip(bundle, tmp_path / "again")
