"""The prebuild hook that carries the deployed version label to the app, run on a simulated instance.

The simulation: a staging directory with a board/ folder, a fake get-config naming it, and the version manifest in
each shape seen on instances (docs/eb-platform.md, row 15).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from board import config
from testkit.tree import ROOT

HOOK = ROOT / ".platform" / "hooks" / "prebuild" / "01_version_label.py"


@pytest.fixture
def instance(tmp_path):
    staging = tmp_path / "staging"
    (staging / "board").mkdir(parents=True)
    get_config = tmp_path / "get-config"
    get_config.write_text(f'#!/bin/sh\n[ "$1 $3" = "platformconfig AppStagingDir" ] && echo "{staging}/"\n')
    get_config.chmod(0o755)
    manifest = tmp_path / "app_version_manifest.json"

    def deploy(content) -> str | None:
        """Run the hook with this manifest (a dict, raw text, or None for no file); the label file it leaves."""
        if content is None:
            manifest.unlink(missing_ok=True)
        else:
            manifest.write_text(content if isinstance(content, str) else json.dumps(content))
        env = {**os.environ, "BOARD_VERSION_MANIFEST": str(manifest), "BOARD_GET_CONFIG": str(get_config)}
        subprocess.run([str(HOOK)], check=True, env=env, cwd=staging, capture_output=True, timeout=30)
        label = staging / "board" / "VERSION_LABEL"
        return label.read_text().strip() if label.exists() else None

    deploy.staging = staging
    return deploy


def runtime_sources(*labels: str) -> dict:
    return {"RuntimeSources": {"board": {label: {"s3url": ""} for label in labels}}, "DeploymentId": 3, "Serial": 4}


def test_the_label_under_runtime_sources_is_written_for_the_app(instance):
    assert instance(runtime_sources("app-251129_150000")) == "app-251129_150000"


def test_a_top_level_version_label_is_tried_first(instance):
    assert instance({**runtime_sources("from-sources"), "VersionLabel": "v7-abc1234"}) == "v7-abc1234"


@pytest.mark.parametrize("content", [None, "{not json", "[]", {"Serial": 1}, runtime_sources("a", "b"),
                                     {"RuntimeSources": {"x": {"a": {}}, "y": {"b": {}}}}],
                         ids=["no manifest", "not JSON", "not an object", "no label", "two labels", "two apps"])
def test_no_single_label_leaves_no_file_and_the_deployment_goes_on(instance, content):
    (instance.staging / "board" / "VERSION_LABEL").write_text("stale-from-the-bundle\n")
    assert instance(content) is None


def test_the_app_shows_the_deployed_label_over_a_stale_app_version(instance):
    instance(runtime_sources("eb-deploy-label"))
    written = instance.staging / "board" / "VERSION_LABEL"
    assert ROOT / written.relative_to(instance.staging) == config.VERSION_LABEL_FILE  # where the app reads
    assert config.app_version({}, written) == "eb-deploy-label"
    assert config.app_version({"APP_VERSION": "  "}, written) == "eb-deploy-label"
    # An `eb deploy` after a `release`: the property is the release's, the file the version now deployed.
    assert config.app_version({"APP_VERSION": "v9-release"}, written) == "eb-deploy-label"
    assert config.app_version({"APP_VERSION": "v9-release"}, instance.staging / "missing") == "v9-release"
    assert config.app_version({}, instance.staging / "missing") == "dev"
