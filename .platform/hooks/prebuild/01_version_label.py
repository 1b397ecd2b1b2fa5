#!/usr/bin/env python3
"""Carry the label of the application version being deployed to the app, so
/version shows it whichever way the version was deployed: `python -m deploy
release` also sets the APP_VERSION property, but `eb deploy` and the console
leave it as it was (stale). board/config.py prefers the file written here,
and falls back to APP_VERSION where no label was found.

EB documents no place on the instance that holds the label (docs/eb-platform.md,
row 15). Observed: the platform downloads the deployment's version manifest to
/opt/elasticbeanstalk/deployment/app_version_manifest.json before it stages
the bundle, with the label as the one key under the application's name in
RuntimeSources; some published readers also expect a top-level VersionLabel.
Both are tried, VersionLabel first. Nothing found: no file, and the app shows
APP_VERSION or `dev`. A missing label never fails the deployment.

Prebuild runs in the staging directory before the Docker platform builds the
image (the file is copied in with board/) and before the Python platform
copies staging to /var/app/current, so both platforms get it. Configuration
deployments keep the deployed files, so no confighook is needed.

Runs on the host's own python3 (3.9 on Amazon Linux 2023), standard library only.
Outside EB, point it elsewhere with BOARD_GET_CONFIG and BOARD_VERSION_MANIFEST.
"""

import json
import os
import subprocess
import sys

MANIFEST = os.environ.get("BOARD_VERSION_MANIFEST", "/opt/elasticbeanstalk/deployment/app_version_manifest.json")
GET_CONFIG = os.environ.get("BOARD_GET_CONFIG", "/opt/elasticbeanstalk/bin/get-config")


def staging_dir():
    try:
        answer = subprocess.run([GET_CONFIG, "platformconfig", "-k", "AppStagingDir"], capture_output=True, text=True)
    except OSError:
        answer = None
    found = answer.stdout.strip() if answer is not None and answer.returncode == 0 else ""
    return found or "/var/app/staging"


def version_label(manifest):
    """The manifest's VersionLabel, else the one label under RuntimeSources; "" when there is no single one."""
    try:
        with open(manifest, encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, ValueError):
        return ""
    if not isinstance(data, dict):
        return ""
    label = data.get("VersionLabel")
    if not isinstance(label, str) or not label.strip():
        sources = data.get("RuntimeSources")
        labels = [key for app in sources.values() if isinstance(app, dict) for key in app] \
            if isinstance(sources, dict) else []
        label = labels[0] if len(labels) == 1 else ""
    return " ".join(label.split())


def main():
    staging = staging_dir()
    target = os.path.join(staging.rstrip("/"), "board", "VERSION_LABEL")
    if os.path.lexists(target):
        os.remove(target)  # never a stale label shipped in the bundle
    if not os.path.isdir(os.path.join(staging, "board")):
        # A bundle released by image carries no app files: the image is built already, and the release set
        # APP_VERSION.
        print(f"board-version-label: no board/ in {staging} (released by image); /version shows APP_VERSION")
        return 0
    label = version_label(MANIFEST)
    if label:
        with open(target, "w", encoding="utf-8") as file:
            file.write(label + "\n")
        print(f"board-version-label: {label} (from {MANIFEST}) written to {target}")
    else:
        print(f"board-version-label: no single version label in {MANIFEST}; /version shows APP_VERSION or dev")
    return 0


if __name__ == "__main__":
    sys.exit(main())
