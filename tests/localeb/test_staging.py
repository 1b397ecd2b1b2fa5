"""What the local instance reads from a staged bundle, as the platform reads it."""

from __future__ import annotations

import json
import zipfile

import pytest

from board.config import CONTAINER_PORT
from deploy.bundle import write_bundle
from deploy.ebextensions import ENVIRONMENT
from deploy.image import write_image_bundle
from localeb.errors import LocalEBError
from localeb.staging import DOCKERRUN_MODE, bundle_extensions, dockerrun, exposed_port, mode, unzip
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


def test_an_image_bundle_runs_the_image_its_dockerrun_names_on_the_apps_port(tmp_path):
    name = "127.0.0.1:5000/board@sha256:" + "a" * 64
    staged = unzip(write_image_bundle(ROOT, tmp_path / "image.zip", name), tmp_path / "staging")
    assert mode(staged) == DOCKERRUN_MODE
    assert dockerrun(staged)["Image"] == {"Name": name, "Update": "true"}
    assert exposed_port(staged) == CONTAINER_PORT
    assert not (staged / "Dockerfile").exists() and not (staged / "board").exists()
    assert (staged / ".platform/hooks/predeploy/01_migrate.py").stat().st_mode & 0o111


@pytest.mark.parametrize(("content", "refusal"), [
    ({"AWSEBDockerrunVersion": 2, "containerDefinitions": []}, "must be \"1\""),
    ({"AWSEBDockerrunVersion": "1", "Ports": [{"ContainerPort": "80"}]}, "names no Image.Name"),
    ({"AWSEBDockerrunVersion": "1", "Image": {"Name": "board"}}, "Ports"),
    ({"AWSEBDockerrunVersion": "1", "Image": {"Name": "board"}, "Ports": [{"HostPort": 80}]}, "ContainerPort"),
])
def test_a_dockerrun_the_docker_platform_cannot_run_is_refused_before_any_step(tmp_path, content, refusal):
    (tmp_path / "Dockerrun.aws.json").write_text(json.dumps(content))
    with pytest.raises(LocalEBError, match=refusal):
        mode(tmp_path)


def test_dockerrun_ports_are_read_as_numbers_or_strings_as_aws_examples_write_them(tmp_path):
    (tmp_path / "Dockerrun.aws.json").write_text(json.dumps(
        {"AWSEBDockerrunVersion": "1", "Image": {"Name": "board"}, "Ports": [{"ContainerPort": 8000}]}))
    assert exposed_port(tmp_path) == 8000
