#!/bin/bash
# Apply database migrations once per deployment, before the new version serves.
#
# Runs on the EB host as root after the platform has built the image, before
# it starts the new container. Only the instance marked by the leader_only
# container command in .ebextensions/02-migrations.config migrates; the
# PostgreSQL advisory lock in migrations/env.py makes a second runner harmless
# anyway. A failure exits non-zero, which fails the deployment.
#
# Relies on: the platform tags the image it just built `aws_beanstalk/staging-app`
# (checked below, not assumed), and `get-config environment` prints the
# environment properties as JSON. Configuration-only updates do not run this
# hook (it is not in .platform/confighooks): they restart the same image, whose
# schema is already applied.
set -euo pipefail

marker="${BOARD_LEADER_MARKER:-/var/run/board-migrate-leader}"
log_file="${BOARD_MIGRATE_LOG:-/var/log/board-migrate.log}"
image="${BOARD_STAGING_IMAGE:-aws_beanstalk/staging-app}"
get_config="${BOARD_GET_CONFIG:-/opt/elasticbeanstalk/bin/get-config}"

log() {
  printf '%s board-migrate: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" | tee -a "$log_file"
}

if [[ ! -e "$marker" ]]; then
  log "not the leader instance of this deployment; nothing to do"
  exit 0
fi
env_file="$(mktemp)"
# The mark is for this deployment only; the env file holds secrets.
trap 'rm -f "$marker" "$env_file"' EXIT

if ! docker image inspect "$image" >/dev/null 2>&1; then
  log "error: no image named $image; the platform should have built and tagged it before predeploy"
  exit 1
fi

"$get_config" environment | python3 -c '
import json, sys
for name, value in json.load(sys.stdin).items():
    print(f"{name}={value}")
' >"$env_file"

log "running flask db upgrade with $image"
status=0
docker run --rm --env-file "$env_file" "$image" flask db upgrade >>"$log_file" 2>&1 || status=$?
if [[ "$status" -ne 0 ]]; then
  log "error: flask db upgrade failed with exit code $status; the deployment stops here (details in $log_file)"
  tail -n 40 "$log_file" >&2
  exit "$status"
fi
log "database schema is at the head revision"
