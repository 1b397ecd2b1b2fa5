"""Releases against moto's Elastic Beanstalk (with the extension): the happy path and every way it goes wrong."""

from __future__ import annotations

import re
import subprocess

import pytest

from deploy import environment, follow, provision, prune, release, versions
from deploy.errors import DEPLOY_FAILED, NEEDS_ATTENTION, USAGE, DeployError
from localeb import eb_api
from testkit.tree import ROOT
from tests.deploy.conftest import APP, ENV, POLL, ship


def back(clients, to=None, **policy):
    return release.roll_back(clients, APP, ENV, to, follow.Policy(timeout=5, poll=POLL, **policy),
                             out=lambda line: None)


def app_version_option(clients) -> str | None:
    settings = clients.eb.describe_configuration_settings(ApplicationName=APP, EnvironmentName=ENV)
    options = settings["ConfigurationSettings"][0]["OptionSettings"]
    return next((o["Value"] for o in options if o["OptionName"] == "APP_VERSION"), None)


def test_provision_is_idempotent_and_picks_the_latest_docker_al2023_stack(clients):
    lines = []
    provision.provision(clients, APP, ENV, out=lines.append)
    provision.provision(clients, APP, ENV, out=lines.append)
    [env] = clients.eb.describe_environments(ApplicationName=APP)["Environments"]
    assert env["SolutionStackName"] == "64bit Amazon Linux 2023 v4.10.0 running Docker"  # 4.10 > 4.6: numeric
    app = clients.eb.describe_applications(ApplicationNames=[APP])["Applications"][0]
    assert app["ResourceLifecycleConfig"]["VersionLifecycleConfig"]["MaxCountRule"]["MaxCount"] == 200
    assert clients.iam.get_instance_profile(InstanceProfileName=provision.INSTANCE_ROLE)["InstanceProfile"]["Roles"]
    assert sum("created role" in line for line in lines) == 2  # twice the same call, roles made once


def test_provision_on_the_python_platform_picks_the_latest_python_3_12_stack_and_maps_static_files(clients):
    provision.provision(clients, APP, ENV, out=lambda line: None, platform="python")
    [env] = clients.eb.describe_environments(ApplicationName=APP)["Environments"]
    assert env["SolutionStackName"] == "64bit Amazon Linux 2023 v4.10.0 running Python 3.12"  # not 3.11's 4.11
    settings = clients.eb.describe_configuration_settings(ApplicationName=APP, EnvironmentName=ENV)
    options = {(o["Namespace"], o["OptionName"]): o["Value"]
               for o in settings["ConfigurationSettings"][0]["OptionSettings"]}
    assert options[("aws:elasticbeanstalk:environment:proxy:staticfiles", "/static")] == "board/static"


def test_provision_on_the_docker_platform_sets_no_static_files_mapping(clients):
    provision.provision(clients, APP, ENV, out=lambda line: None, platform="docker")
    settings = clients.eb.describe_configuration_settings(ApplicationName=APP, EnvironmentName=ENV)
    assert not [o for o in settings["ConfigurationSettings"][0]["OptionSettings"]
                if o["Namespace"].endswith(":staticfiles")]  # the Docker platform does not support the mapping


def test_release_v1_then_v2_ends_ready_green_on_the_new_label(ready, tmp_path):
    for label in ("v1", "v2"):
        state = ship(ready, tmp_path, label)
        assert (state.status, state.health, state.version) == ("Ready", "Green", label)
        assert app_version_option(ready) == label


def test_a_bad_version_is_rolled_back_automatically_and_fails_with_the_events(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    ship(ready, tmp_path, "v2")
    eb_api.mark_bad("v3")
    lines = []
    with pytest.raises(DeployError) as failure:
        ship(ready, tmp_path, "v3", lines=lines)
    assert failure.value.exit_code == DEPLOY_FAILED
    assert "rolled back to v2" in str(failure.value) and "Failed to deploy application version v3" in str(failure.value)
    assert any("ERROR" in line and "Instance deployment failed" in line for line in lines)  # streamed as they came
    state = environment.describe(ready.eb, APP, ENV)
    assert (state.version, state.health, state.status) == ("v2", "Green", "Ready")


def test_no_rollback_leaves_the_bad_version_and_says_so(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.mark_bad("v2")
    with pytest.raises(DeployError) as failure:
        ship(ready, tmp_path, "v2", rollback=False)
    assert failure.value.exit_code == NEEDS_ATTENTION and "--no-rollback" in str(failure.value)
    assert environment.describe(ready.eb, APP, ENV).version == "v2"


def test_a_timeout_rolls_back_once_the_update_settles(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.set_delay(1.5)  # v2's update outlasts the timeout, and ends half a timeout into the rollback
    eb_api.set_processing(0)

    def out(line: str) -> None:
        if line.startswith("rolling back"):
            eb_api.set_delay(0.1)  # the rollback's own update is quick

    with pytest.raises(DeployError) as failure:
        release.release(ready, ROOT, APP, ENV, "v2", follow.Policy(timeout=1.0, poll=POLL), tmp_path, out=out)
    assert failure.value.exit_code == DEPLOY_FAILED
    assert "timed out" in str(failure.value) and "rolled back to v1" in str(failure.value)
    state = environment.describe(ready.eb, APP, ENV)
    assert (state.version, state.health, state.status) == ("v1", "Green", "Ready")


def test_a_timeout_far_shorter_than_the_update_says_no_rollback_started(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.set_delay(2)
    eb_api.set_processing(0)
    with pytest.raises(DeployError) as failure:
        ship(ready, tmp_path, "v2", timeout=0.2)
    assert failure.value.exit_code == NEEDS_ATTENTION
    assert "timed out" in str(failure.value) and "not rolled back: board-test is still Updating" in str(failure.value)
    assert "failed too" not in str(failure.value)


def test_release_while_another_update_runs_fails_fast_naming_it(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.set_delay(30)
    ready.eb.update_environment(ApplicationName=APP, EnvironmentName=ENV, VersionLabel="v1")
    with pytest.raises(DeployError) as busy:
        ship(ready, tmp_path, "v2")
    assert busy.value.exit_code == USAGE
    assert "is Updating" in str(busy.value) and "Deploying new version v1" in str(busy.value)
    assert "--wait-ready" in str(busy.value)


def test_the_same_label_and_bundle_is_reused_and_other_content_is_refused(ready, tmp_path):
    lines = []
    ship(ready, tmp_path, "v1")
    ship(ready, tmp_path, "v1", lines=lines)
    assert any("reusing it" in line for line in lines) and any("already in s3://" in line for line in lines)
    bundle = release.Bundle(tmp_path / "other.zip", 1, "0" * 64)
    with pytest.raises(DeployError, match="already exists with a different bundle"):
        versions.label_holds(ready.eb, APP, "v1", release.bundle_key(APP, bundle))


def test_rollback_command_returns_to_the_last_healthy_version(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    ship(ready, tmp_path, "v2")
    state = back(ready)
    assert state.version == "v1"
    assert back(ready).version == "v2"


def test_prune_keeps_deployed_versions_and_is_a_dry_run_without_yes(ready, tmp_path):
    for label in ("v1", "v2", "v3", "v4"):
        ship(ready, tmp_path, label)
    back(ready, "v1")  # v1 deployed, and oldest
    assert prune.prune(ready, APP, keep=1, yes=False, out=lambda line: None) == ["v3", "v2"]
    assert len(ready.eb.describe_application_versions(ApplicationName=APP)["ApplicationVersions"]) == 4
    prune.prune(ready, APP, keep=1, yes=True, out=lambda line: None)
    versions = ready.eb.describe_application_versions(ApplicationName=APP)["ApplicationVersions"]
    left = {v["VersionLabel"] for v in versions}
    assert left == {"v4", "v1"}


def test_an_unknown_environment_is_one_clear_error(clients, tmp_path):
    with pytest.raises(DeployError, match="no environment 'nowhere-env' in application 'board'"):
        follow.ensure_ready(clients.eb, APP, "nowhere-env")


def test_default_label_is_the_git_sha():
    label = release.default_label(ROOT)
    assert len(label.removesuffix("-dirty")) == 12


def test_bundle_over_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(release, "MAX_BUNDLE_BYTES", 10)
    with pytest.raises(DeployError, match="at most 0.0 MiB: check .ebignore"):
        release.build_bundle(ROOT, tmp_path / "b.zip")


def test_a_failed_rollback_command_exits_3(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    ship(ready, tmp_path, "v2")
    eb_api.mark_bad("v1")  # the way back is broken now
    with pytest.raises(DeployError) as failure:
        back(ready)
    assert failure.value.exit_code == NEEDS_ATTENTION
    assert "the rollback to v1 failed" in str(failure.value)


def test_wait_ready_waits_again_when_another_update_starts_first(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.set_delay(0.5)
    eb_api.set_processing(0)

    def out(line: str) -> None:
        if line.startswith("created version v2"):  # another release gets its update in first
            ready.eb.update_environment(ApplicationName=APP, EnvironmentName=ENV, VersionLabel="v1")

    lines = []
    state = release.release(ready, ROOT, APP, ENV, "v2", follow.Policy(timeout=10, poll=POLL, wait_ready=True),
                            tmp_path, out=lambda line: (out(line), lines.append(line)))
    assert any("became busy before v2 could start" in line for line in lines)
    assert (state.version, state.status, state.health) == ("v2", "Ready", "Green")


def test_without_wait_ready_an_update_that_lost_the_race_is_refused(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.set_delay(0.5)
    eb_api.set_processing(0)

    def out(line: str) -> None:
        if line.startswith("created version v2"):
            ready.eb.update_environment(ApplicationName=APP, EnvironmentName=ENV, VersionLabel="v1")

    with pytest.raises(DeployError) as refused:
        release.release(ready, ROOT, APP, ENV, "v2", follow.Policy(timeout=10, poll=POLL), tmp_path, out=out)
    assert refused.value.exit_code == USAGE and "Must be Ready" in str(refused.value)


def git_tree(path):
    def git(*args):
        subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=path, check=True,
                       capture_output=True)

    (path / ".ebextensions").mkdir(parents=True)
    (path / ".ebignore").write_text("")
    (path / "Dockerfile").write_text("FROM python:3.12-slim\n")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "one")
    return path


def test_each_changed_tree_gets_its_own_dirty_label(ready, tmp_path):
    tree = git_tree(tmp_path / "tree")
    (tree / "Dockerfile").write_text("FROM python:3.12-slim\nENV A=1\n")
    first = ship(ready, tmp_path / "w1", None, root=tree).version
    (tree / "Dockerfile").write_text("FROM python:3.12-slim\nENV A=2\n")  # still changed, other content
    second = ship(ready, tmp_path / "w2", None, root=tree).version
    assert first != second and all("-dirty-" in label for label in (first, second))
    (tree / "Dockerfile").write_text("FROM python:3.12-slim\nENV A=1\n")  # the first content again: its label
    assert ship(ready, tmp_path / "w3", None, root=tree).version == first


def count_calls(*clients_) -> dict[str, int]:
    counts: dict[str, int] = {}

    def seen(model, **_):
        counts[model.name] = counts.get(model.name, 0) + 1

    for client in clients_:
        client.meta.events.register("before-call", seen)
    return counts


def test_finding_the_rollback_target_takes_the_same_few_calls_however_many_versions_exist(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    ship(ready, tmp_path, "v2")
    source = ready.eb.describe_application_versions(ApplicationName=APP, VersionLabels=["v2"])[
        "ApplicationVersions"][0]["SourceBundle"]
    for number in range(60):  # versions made meanwhile, never deployed here
        ready.eb.create_application_version(ApplicationName=APP, VersionLabel=f"other-{number}", SourceBundle=source)
    calls = count_calls(ready.eb, ready.s3)
    assert back(ready).version == "v1"
    polling = {"DescribeEnvironments", "DescribeEvents", "DescribeEnvironmentHealth", "DescribeInstancesHealth"}
    lookups = {name: n for name, n in calls.items() if name not in polling}
    assert sum(lookups.values()) <= 12, lookups
    assert "ListTagsForResource" not in lookups


def test_an_abort_gets_its_own_timeout_and_ends_back_on_the_old_version(ready, tmp_path, capsys):
    from deploy import cli

    ship(ready, tmp_path, "v1")
    eb_api.set_delay(1)
    eb_api.set_processing(0)
    code = cli.main(["--poll", "0.02", "release", "--app", APP, "--env", ENV, "--label", "v2", "--timeout", "0.3",
                     "--abort"])
    err = capsys.readouterr().err
    assert code == DEPLOY_FAILED, err  # aborted back to a healthy v1, though the abort outlasted --timeout
    assert "aborted" in err and "version v1" in err


def test_event_times_say_they_are_utc(ready, tmp_path):
    lines = []
    ship(ready, tmp_path, "v1", lines=lines)
    events = [line for line in lines if line.startswith("  ") and " INFO " in line]
    assert events and all(re.match(r"  \d\d:\d\d:\d\dZ INFO ", line) for line in events), events
