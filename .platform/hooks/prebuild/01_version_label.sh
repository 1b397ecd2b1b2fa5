#!/bin/bash
# Carry the label of the application version being deployed to the app, so
# /version shows it whichever way the version was deployed: `python -m deploy
# release` also sets the APP_VERSION property, but `eb deploy` and the console
# leave it as it was (stale). board/config.py prefers the file written here,
# and falls back to APP_VERSION where no label was found.
#
# EB documents no place on the instance that holds the label (docs/eb-platform.md,
# row 15). Observed: the platform downloads the deployment's version manifest to
# /opt/elasticbeanstalk/deployment/app_version_manifest.json before it stages
# the bundle, with the label as the one key under the application's name in
# RuntimeSources; some published readers also expect a top-level VersionLabel.
# Both are tried, VersionLabel first. Nothing found: no file, and the app shows
# APP_VERSION or `dev`. A missing label never fails the deployment.
#
# Prebuild runs in the staging directory before the Docker platform builds the
# image (the file is copied in with board/) and before the Python platform
# copies staging to /var/app/current, so both platforms get it. Configuration
# deployments keep the deployed files, so no confighook is needed.
set -euo pipefail

manifest="${BOARD_VERSION_MANIFEST:-/opt/elasticbeanstalk/deployment/app_version_manifest.json}"
get_config="${BOARD_GET_CONFIG:-/opt/elasticbeanstalk/bin/get-config}"

staging="$("$get_config" platformconfig -k AppStagingDir 2>/dev/null || true)"
staging="${staging:-/var/app/staging}"
target="${staging%/}/board/VERSION_LABEL"
rm -f "$target"  # never a stale label shipped in the bundle
if [[ ! -d "${staging%/}/board" ]]; then
  # A bundle released by image carries no app files: the image is built already, and the release set
  # APP_VERSION.
  echo "board-version-label: no board/ in $staging (released by image); /version shows APP_VERSION"
  exit 0
fi

label="$(python3 - "$manifest" <<'PYTHON' || true
import json
import sys

try:
    with open(sys.argv[1], encoding="utf-8") as file:
        data = json.load(file)
except (OSError, ValueError):
    sys.exit(0)
if not isinstance(data, dict):
    sys.exit(0)
label = data.get("VersionLabel")
if not isinstance(label, str) or not label.strip():
    sources = data.get("RuntimeSources")
    labels = [key for app in sources.values() if isinstance(app, dict) for key in app] \
        if isinstance(sources, dict) else []
    label = labels[0] if len(labels) == 1 else ""
print(" ".join(label.split()))
PYTHON
)"

if [[ -n "$label" ]]; then
  printf '%s\n' "$label" >"$target"
  echo "board-version-label: $label (from $manifest) written to $target"
else
  echo "board-version-label: no single version label in $manifest; /version shows APP_VERSION or dev"
fi
