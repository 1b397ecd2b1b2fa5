#!/usr/bin/env python3
"""Bring the database schema to the head revision before the new version serves.

EB runs predeploy hooks as root on every instance it deploys to, after it has
built the new image and before it starts it. Every instance runs
`python -m board.upgrade` with the new version's code: `flask db upgrade`,
unless the database is already at the head of its migrations (board/upgrade.py
asks with the driver alone, which spares the instances after the first, and a
release without a migration, the app's start). The PostgreSQL advisory lock in
migrations/env.py lets one instance apply the revisions while the others wait,
then find the schema at head and change nothing. So migrations run once per
deployment whichever instance comes first, with no leader marker (leader_only
exists for container_commands only, and with RollingWithAdditionalBatch the
first batch holds new instances). A failure exits non-zero, which fails the
deployment before the switch.

The platform: the same bundle deploys on "Docker running on 64bit Amazon Linux
2023" and "Python 3.12 running on 64bit Amazon Linux 2023" (docs/eb-platform.md).
The Python platform is recognised by its virtualenv, /var/app/venv/*/bin/activate
(where it installed requirements.txt before predeploy); a Docker host has none.
Detecting the venv, not the docker CLI or the Dockerfile: the bundle ships the
Dockerfile to both, and a Python instance may well have docker installed.

On Docker, released by image (`python -m deploy release --image`): the bundle's
Dockerrun.aws.json names the image by digest and has no Dockerfile; the
platform pulled exactly that image before predeploy, so it runs here as is.
On Docker, from the source bundle: the image is rebuilt from the staging
directory with `docker build --quiet`. The platform's build has just filled the
build cache, so this returns the image it built at once, whatever tag the
platform gave it (aws_beanstalk/staging-app on EB; one engine shared by several
local instances holds several, so the tag is not relied on).
On Python: the same, with that venv's python, in the staging directory.

Runs on the host's own python3 (3.9 on Amazon Linux 2023), standard library only.
Outside EB, point it elsewhere with BOARD_GET_CONFIG, BOARD_MIGRATE_LOG, BOARD_VENV
or BOARD_IMAGE (the image to migrate with).
"""

import glob
import json
import os
import subprocess
import sys
import time

LOG = os.environ.get("BOARD_MIGRATE_LOG", "/var/log/board-migrate.log")
GET_CONFIG = os.environ.get("BOARD_GET_CONFIG", "/opt/elasticbeanstalk/bin/get-config")
SECRETS = "aws:elasticbeanstalk:application:environmentsecrets"
UPGRADE = ["-m", "board.upgrade"]  # flask db upgrade, unless the database is already at head


def log(message):
    line = "{} board-migrate: {}".format(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), message)
    print(line, flush=True)
    with open(LOG, "a") as file:
        file.write(line + "\n")


def get_config(*args):
    """get-config's answer as text; empty when it fails (the platform's defaults apply then)."""
    try:
        answer = subprocess.run([GET_CONFIG, *args], capture_output=True, text=True)
    except OSError:
        return ""
    return answer.stdout.strip() if answer.returncode == 0 else ""


def get_config_json(*args):
    try:
        found = json.loads(get_config(*args) or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def platform_venv():
    """The Python platform's virtualenv, the newest if an older one is still there; None on Docker."""
    venvs = [os.path.dirname(os.path.dirname(path)) for path in glob.glob("/var/app/venv/*/bin/activate")]
    return max(venvs, key=os.path.getmtime) if venvs else None


def image_to_run(staging):
    """The image the platform is about to start, or None (logged) when it cannot be found."""
    dockerrun = os.path.join(staging, "Dockerrun.aws.json")
    if os.path.isfile(dockerrun) and not os.path.isfile(os.path.join(staging, "Dockerfile")):
        try:
            with open(dockerrun) as file:
                image = str(json.load(file)["Image"]["Name"]).strip()
        except (OSError, ValueError, KeyError, TypeError):
            image = ""
        if not image:
            log(f"error: {dockerrun} names no Image.Name")
            return None
        log(f"the image Dockerrun.aws.json names, as the platform pulled it: {image}")
        return image
    with open(LOG, "a") as errors:
        built = subprocess.run(["docker", "build", "--quiet", staging], stdout=subprocess.PIPE, stderr=errors,
                               text=True)
    if built.returncode != 0 or not built.stdout.strip():
        log(f"error: could not find the image built from {staging} (docker build failed; details in {LOG})")
        return None
    return built.stdout.strip()


def app_environment():
    """This process's environment plus the environment properties, and the names the app needs passed on:
    every property, and each environmentsecrets name this process has (its resolved value wins over whatever
    get-config lists). Secrets' names come from `get-config optionsettings`, the documented whole form."""
    environment = dict(os.environ)
    names = []
    for name, value in get_config_json("environment").items():
        environment[name] = str(value)
        names.append(name)
    secrets = get_config_json("optionsettings").get(SECRETS)
    for name in secrets if isinstance(secrets, dict) else ():
        if name in os.environ:
            environment[name] = os.environ[name]
            names.append(name)
    return environment, list(dict.fromkeys(names))


def main():
    staging = get_config("platformconfig", "-k", "AppStagingDir") or "/var/app/staging"
    venv = os.environ.get("BOARD_VENV") or (None if os.environ.get("BOARD_IMAGE") else platform_venv())
    environment, names = app_environment()
    if venv:
        log(f"Python platform: migrating from {venv} in {staging}")
        environment["FLASK_APP"] = "board"
        environment["PATH"] = os.path.join(venv, "bin") + os.pathsep + environment.get("PATH", "")
        command, folder = [os.path.join(venv, "bin", "python"), *UPGRADE], staging
    else:
        image = os.environ.get("BOARD_IMAGE") or image_to_run(staging)
        if not image:
            return 1
        log(f"migrating with {image}")
        passed = [argument for name in names for argument in ("-e", name)]  # values travel in the environment
        # The host's network: the database is reached as from the host, and the container needs no address of
        # its own (a bridge's network namespace is most of a bare container's start).
        command, folder = ["docker", "run", "--rm", "--network", "host", *passed, image, "python", *UPGRADE], None
    with open(LOG, "a") as output:
        finished = subprocess.run(command, env=environment, cwd=folder, stdout=output, stderr=subprocess.STDOUT)
    status = finished.returncode
    if status != 0:
        log(f"error: the migration failed with exit code {status}; the deployment stops here "
            f"(details in {LOG})")
        with open(LOG) as file:
            sys.stderr.write("".join(file.readlines()[-40:]))
        return status
    log("database schema is at the head revision")
    return 0


if __name__ == "__main__":
    sys.exit(main())
