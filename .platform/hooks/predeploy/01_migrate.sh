#!/bin/bash
# Bring the database schema to the head revision before the new version serves.
#
# EB runs predeploy hooks as root on every instance it deploys to, after it has
# built the new image and before it starts it. Every instance runs
# `flask db upgrade`: the PostgreSQL advisory lock in migrations/env.py lets one
# apply the revisions while the others wait, then find the schema at head and
# change nothing. So migrations run once per deployment whichever instance comes
# first, with no leader marker (leader_only exists for container_commands only,
# and with RollingWithAdditionalBatch the first batch holds new instances).
# A failure exits non-zero, which fails the deployment before the switch.
#
# The platform: the same bundle deploys on "Docker running on 64bit Amazon Linux
# 2023" and "Python 3.12 running on 64bit Amazon Linux 2023" (docs/eb-platform.md).
# The Python platform is recognised by its virtualenv, /var/app/venv/*/bin/activate
# (where it installed requirements.txt before predeploy); a Docker host has none.
# Detecting the venv, not the docker CLI or the Dockerfile: the bundle ships the
# Dockerfile to both, and a Python instance may well have docker installed.
#
# On Docker, released by image (`python -m deploy release --image`): the bundle's
# Dockerrun.aws.json names the image by digest and has no Dockerfile; the
# platform pulled exactly that image before predeploy, so it runs here as is.
# On Docker, from the source bundle: the image is rebuilt from the staging
# directory with `docker build --quiet`. The platform's build has just filled the
# build cache, so this returns the image it built at once, whatever tag the
# platform gave it (aws_beanstalk/staging-app on EB; one engine shared by several
# local instances holds several, so the tag is not relied on).
# On Python: `flask db upgrade` from that venv, in the staging directory.
#
set -euo pipefail

log_file="${BOARD_MIGRATE_LOG:-/var/log/board-migrate.log}"
get_config="${BOARD_GET_CONFIG:-/opt/elasticbeanstalk/bin/get-config}"

log() {
  printf '%s board-migrate: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" | tee -a "$log_file"
}

staging="$("$get_config" platformconfig -k AppStagingDir 2>/dev/null || true)"
staging="${staging:-/var/app/staging}"
venv="${BOARD_VENV:-}"
if [[ -z "$venv" && -z "${BOARD_IMAGE:-}" ]]; then
  # The newest one: the venv this deployment built, if an older one is still there.
  venv="$(find /var/app/venv -mindepth 1 -maxdepth 1 -type d -exec test -e '{}/bin/activate' ';' -printf '%T@ %p\n' \
    2>/dev/null | sort -rn | head -n 1 | cut -d' ' -f2- || true)"
fi
if [[ -n "$venv" ]]; then
  run=(--venv "$venv" "$staging")
  log "Python platform: running flask db upgrade from $venv in $staging"
else
  image="${BOARD_IMAGE:-}"
  if [[ -z "$image" && -f "$staging/Dockerrun.aws.json" && ! -f "$staging/Dockerfile" ]]; then
    image="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["Image"]["Name"].strip())' \
      "$staging/Dockerrun.aws.json" 2>>"$log_file" || true)"
    if [[ -z "$image" ]]; then
      log "error: $staging/Dockerrun.aws.json names no Image.Name"
      exit 1
    fi
    log "the image Dockerrun.aws.json names, as the platform pulled it: $image"
  fi
  if [[ -z "$image" ]]; then
    if ! image="$(docker build --quiet "$staging" 2>>"$log_file")"; then
      log "error: could not find the image built from $staging (docker build failed; details in $log_file)"
      exit 1
    fi
  fi
  run=(--image "$image")
  log "running flask db upgrade with $image"
fi

status=0
BOARD_GET_CONFIG="$get_config" python3 - "${run[@]}" >>"$log_file" 2>&1 <<'PYTHON' || status=$?
import json
import os
import subprocess
import sys

get_config = os.environ["BOARD_GET_CONFIG"]


def config(*args):
    answer = subprocess.run([get_config, *args], capture_output=True, text=True)
    try:
        return json.loads(answer.stdout) if answer.returncode == 0 and answer.stdout.strip() else {}
    except ValueError:
        return {}


environment = dict(os.environ)
names = []
for name, value in config("environment").items():
    environment[name] = str(value)
    names.append(name)
# Every namespace, then the secrets' one: `-n` alone is not a documented form of get-config.
options = config("optionsettings")
secrets = options.get("aws:elasticbeanstalk:application:environmentsecrets") if isinstance(options, dict) else None
for name in secrets if isinstance(secrets, dict) else ():
    if name in os.environ:
        environment[name] = os.environ[name]  # the resolved value wins over whatever get-config lists
        names.append(name)
if sys.argv[1] == "--venv":  # the Python platform: the app runs from its venv, not an image
    venv, staging = sys.argv[2], sys.argv[3]
    environment["FLASK_APP"] = "board"
    environment["PATH"] = os.path.join(venv, "bin") + os.pathsep + environment.get("PATH", "")
    command = [os.path.join(venv, "bin", "flask"), "db", "upgrade"]
    sys.exit(subprocess.run(command, env=environment, cwd=staging).returncode)
command = ["docker", "run", "--rm"]
for name in dict.fromkeys(names):
    command += ["-e", name]
sys.exit(subprocess.run([*command, sys.argv[2], "flask", "db", "upgrade"], env=environment).returncode)
PYTHON
if [[ "$status" -ne 0 ]]; then
  log "error: flask db upgrade failed with exit code $status; the deployment stops here (details in $log_file)"
  tail -n 40 "$log_file" >&2
  exit "$status"
fi
log "database schema is at the head revision"
