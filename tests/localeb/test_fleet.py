"""A deployment on the local instance fails where EB's would, and the old version keeps serving."""

from __future__ import annotations

import pytest

from localeb.docker import docker

from .conftest import BROKEN_MIGRATION, version

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def serving_container(fleet) -> str:
    return docker("inspect", "--format", "{{.State.Status}}", fleet.engines[0].container).stdout.strip()


def test_the_repo_deploys_and_serves_its_version_through_nginx(fleet):
    # No APP_VERSION property: the label comes from the instance's version manifest, through the prebuild hook.
    assert "APP_VERSION" not in fleet.properties and version(fleet.url) == "v1"
    assert fleet.engines[0].instance.run("nginx -T 2>/dev/null | grep -c 'proxy_pass            http://docker'",
                                         workdir="/").text.strip() == "1"


def test_a_conf_d_file_repeating_a_platform_directive_fails_at_the_proxy_step(fleet, make_bundle):
    def add_gzip(tree):
        (tree / ".platform/nginx/conf.d/elasticbeanstalk/zz-gzip.conf").write_text("gzip on;\n")

    result = fleet.deploy(make_bundle("dup-gzip", add_gzip), label="v-gzip")
    assert not result.ok and result.health == "Red"
    assert result.failure.step == "start proxy with new configuration"
    assert '"gzip" directive is duplicate in /var/proxy/staging/nginx/conf.d/elasticbeanstalk/' in \
        result.failure.output
    assert any("Command failed on instance" in event.message for event in result.events)
    assert version(fleet.url) == "v1" and serving_container(fleet) == "running"


def test_a_failing_migration_fails_the_deploy_and_the_old_container_keeps_serving(fleet, make_bundle):
    def break_migrations(tree):
        (tree / "migrations/versions/9999_broken.py").write_text(BROKEN_MIGRATION)

    before = fleet.engines[0].container
    result = fleet.deploy(make_bundle("broken-migration", break_migrations), label="v-broken")
    assert not result.ok
    assert result.failure.step == "RunAppDeployPreDeployHooks"
    assert "no_such_table" in result.failure.output
    assert fleet.engines[0].container == before and serving_container(fleet) == "running"
    assert version(fleet.url) == "v1"


def test_a_compose_file_at_the_root_is_refused_as_docker_compose_mode(fleet, make_bundle):
    def add_compose(tree):
        (tree / "docker-compose.yml").write_text("services: {}\n")
        (tree / ".ebignore").write_text((tree / ".ebignore").read_text() + "!/docker-compose.yml\n")

    result = fleet.deploy(make_bundle("compose", add_compose), label="v-compose")
    assert result.failure.step == "StageApplication" and "Docker Compose" in result.failure.message
    assert version(fleet.url) == "v1"


def test_a_bundle_without_dockerfile_is_an_error(fleet, make_bundle):
    result = fleet.deploy(make_bundle("no-dockerfile", lambda tree: (tree / "Dockerfile").unlink()), label="v-none")
    assert result.failure.step == "StageApplication" and "Dockerfile and Dockerrun.aws.json" in result.failure.message


def test_a_hook_without_the_executable_bit_fails_the_deploy(fleet, make_bundle):
    def add_hook(tree):
        hook = tree / ".platform/hooks/prebuild/01_hello.sh"
        hook.parent.mkdir(parents=True, exist_ok=True)
        hook.write_text("#!/bin/bash\necho hello\n")
        hook.chmod(0o644)

    result = fleet.deploy(make_bundle("not-executable", add_hook), label="v-mode")
    assert result.failure.step == "RunAppDeployPreBuildHooks" and "permission denied" in result.failure.message
    assert version(fleet.url) == "v1"


def test_a_configuration_update_runs_confighooks_and_restarts_with_new_properties(fleet, make_bundle):
    def add_confighook(tree):
        hook = tree / ".platform/confighooks/predeploy/01_note.sh"
        hook.parent.mkdir(parents=True)
        hook.write_text("#!/bin/bash\n/opt/elasticbeanstalk/bin/get-config environment -k POSTS_PER_PAGE"
                        " >> /var/log/confighook-ran\n")
        hook.chmod(0o755)

    assert fleet.deploy(make_bundle("confighooks", add_confighook), label="v-config").ok
    instance = fleet.engines[0].instance
    assert not instance.run("test -e /var/log/confighook-ran", workdir="/").ok  # an app deployment skips them
    result = fleet.configure({"POSTS_PER_PAGE": "7", "APP_VERSION": "v-explicit"})
    assert result.ok, result.failure
    assert instance.run("cat /var/log/confighook-ran", workdir="/").text.strip() == "7"
    environment = docker("inspect", "--format", "{{json .Config.Env}}", fleet.engines[0].container).stdout
    assert "POSTS_PER_PAGE=7" in environment
    assert version(fleet.url) == "v-config"  # the deployed label wins over an APP_VERSION property


def test_environment_secrets_reach_the_container_and_an_unresolved_one_fails_the_deploy(fleet, make_bundle):
    def add_secret(tree):
        (tree / ".ebextensions/04-secret.config").write_text(
            "option_settings:\n  aws:elasticbeanstalk:application:environmentsecrets:\n"
            "    BOARD_TEST_SECRET: arn:aws:ssm:us-east-1:111122223333:parameter/board/test\n")

    bundle = make_bundle("secret", add_secret)
    unresolved = fleet.deploy(bundle, label="v-unresolved")
    assert not unresolved.ok and "BOARD_TEST_SECRET" in unresolved.failure.message
    assert version(fleet.url) != "v-unresolved"
    result = fleet.deploy(bundle, secrets={"BOARD_TEST_SECRET": "line one\nline two"}, label="v-secret")
    assert result.ok, result.failure
    environment = docker("inspect", "--format", "{{json .Config.Env}}", fleet.engines[0].container).stdout
    assert "BOARD_TEST_SECRET=line one\\nline two" in environment
    assert version(fleet.url) == "v-secret"
