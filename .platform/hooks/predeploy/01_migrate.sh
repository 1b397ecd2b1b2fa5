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
# The image: rebuilt from the staging directory with `docker build --quiet`.
# The platform's build has just filled the build cache, so this returns the
# image it built at once, whatever tag the platform gave it.
#
# The settings: `get-config environment` (JSON), plus each name of
# aws:elasticbeanstalk:application:environmentsecrets found in this hook's own
# environment (EB documents secrets as environment variables of hooks; whether
# get-config lists them is not documented). Values go to `docker run` by name
# (-e NAME) through the process environment, so any character, newlines
# included, arrives intact. Configuration-only updates do not run this hook:
# they restart the same image, whose schema is already applied.
set -euo pipefail

log_file="${BOARD_MIGRATE_LOG:-/var/log/board-migrate.log}"
get_config="${BOARD_GET_CONFIG:-/opt/elasticbeanstalk/bin/get-config}"

log() {
  printf '%s board-migrate: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" | tee -a "$log_file"
}

staging="$("$get_config" platformconfig -k AppStagingDir 2>/dev/null || true)"
staging="${staging:-/var/app/staging}"
image="${BOARD_IMAGE:-}"
if [[ -z "$image" ]]; then
  if ! image="$(docker build --quiet "$staging" 2>>"$log_file")"; then
    log "error: could not find the image built from $staging (docker build failed; details in $log_file)"
    exit 1
  fi
fi

log "running flask db upgrade with $image"
status=0
BOARD_GET_CONFIG="$get_config" python3 - "$image" >>"$log_file" 2>&1 <<'PYTHON' || status=$?
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
secrets = config("optionsettings", "-n", "aws:elasticbeanstalk:application:environmentsecrets")
for name in secrets if isinstance(secrets, dict) else ():
    if name in os.environ:
        environment[name] = os.environ[name]  # the resolved value wins over whatever get-config lists
        names.append(name)
command = ["docker", "run", "--rm"]
for name in dict.fromkeys(names):
    command += ["-e", name]
sys.exit(subprocess.run([*command, sys.argv[1], "flask", "db", "upgrade"], env=environment).returncode)
PYTHON
if [[ "$status" -ne 0 ]]; then
  log "error: flask db upgrade failed with exit code $status; the deployment stops here (details in $log_file)"
  tail -n 40 "$log_file" >&2
  exit "$status"
fi
log "database schema is at the head revision"
