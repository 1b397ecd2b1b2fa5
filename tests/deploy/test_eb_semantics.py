"""EB's state machine: versions are processed before they can be deployed, refusals change nothing,
throttling is retried in view, busy environments are waited for or aborted, updates re-attached to."""

from __future__ import annotations

import shutil

import pytest

from deploy import follow, release
from deploy.errors import DEPLOY_FAILED, INTERRUPTED, USAGE, DeployError
from localeb import eb_api
from testkit.tree import ROOT
from tests.deploy.conftest import APP, ENV, POLL, ship, state


def events(clients) -> list[str]:
    return [e["Message"] for e in clients.eb.describe_events(ApplicationName=APP, EnvironmentName=ENV)["Events"]]


def test_release_waits_until_the_version_is_processed(ready, tmp_path):
    eb_api.set_processing(0.3)
    lines = []
    deployed = ship(ready, tmp_path, "v1", lines)
    assert (deployed.version, deployed.health) == ("v1", "Green")
    assert "waiting for EB to process version v1 (PROCESSING)" in lines
    assert lines.index("version v1 is processed") < lines.index("deploying v1 to board-test")


def test_a_bundle_eb_cannot_process_fails_naming_the_file_and_leaves_the_environment(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    tree = tmp_path / "tree"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(".git", ".venv", "node_modules", "dist"))
    (tree / ".ebextensions" / "01-bad.config").write_text("option_settings:\n  - namespace: [unclosed\n")
    named = ".ebextensions/01-bad.config is not valid YAML"
    with pytest.raises(DeployError) as failure:
        ship(ready, tmp_path, "v2", root=tree)
    assert failure.value.exit_code == DEPLOY_FAILED
    assert f"EB could not process version v2: Unable to process application version v2: {named}" in str(failure.value)
    assert "the environment was not touched" in str(failure.value)
    assert (state(ready).version, state(ready).health) == ("v1", "Green")


def test_an_update_throttled_past_the_retries_is_refused_and_not_rolled_back(ready, tmp_path, backoff, capsys):
    ship(ready, tmp_path, "v1")
    before = len(events(ready))
    eb_api.throttle("UpdateEnvironment", 20)  # more than the 10 attempts
    with pytest.raises(follow.Refused) as refused:
        ship(ready, tmp_path, "v2")
    assert refused.value.exit_code == USAGE
    assert "refused to deploy v2 to board-test (Throttling: Rate exceeded); the environment was left as it was" \
        in str(refused.value)
    assert capsys.readouterr().err.count("EB is throttling, retrying (attempt") == 10  # one per retry
    assert len(events(ready)) == before  # no update, no rollback
    assert state(ready).version == "v1"


def test_an_update_refused_because_another_started_is_exit_2_without_rollback(ready, tmp_path):
    ship(ready, tmp_path, "v1")

    def meanwhile(line):  # someone else deploys v1 again while v2 is being processed
        if line == "created version v2":
            eb_api.set_delay(5)
            ready.eb.update_environment(ApplicationName=APP, EnvironmentName=ENV, VersionLabel="v1")

    with pytest.raises(follow.Refused) as refused:
        release.release(ready, ROOT, APP, ENV, "v2", follow.Policy(timeout=5, poll=POLL), tmp_path, out=meanwhile)
    assert "is in an invalid state for this operation. Must be Ready" in str(refused.value)
    assert not any("Deploying new version v2" in message for message in events(ready))


def test_wait_ready_waits_behind_a_busy_environment_showing_its_events(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.set_delay(0.4)
    ready.eb.update_environment(ApplicationName=APP, EnvironmentName=ENV, VersionLabel="v1")
    lines = []
    deployed = ship(ready, tmp_path, "v2", lines, wait_ready=True)
    assert deployed.version == "v2"
    waiting = next(i for i, line in enumerate(lines) if "is Updating" in line and "--wait-ready" in line)
    assert any("Environment update completed successfully." in line for line in lines[waiting:])


def test_abort_on_timeout_brings_the_environment_back(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.set_delay(30)
    eb_api.set_processing(0)
    lines = []

    def out(line):
        lines.append(line)
        if line.startswith("aborting the update"):
            eb_api.set_delay(0.05)

    with pytest.raises(DeployError) as failure:
        release.release(ready, ROOT, APP, ENV, "v2", follow.Policy(timeout=0.3, poll=POLL, abort=True), tmp_path,
                        out=out)
    assert failure.value.exit_code == DEPLOY_FAILED
    assert "timed out after 0 s" in str(failure.value) and "aborted: board-test: Ready" in str(failure.value)
    assert any("Environment update is being aborted." in line for line in lines)
    assert (state(ready).version, state(ready).health) == ("v1", "Green")


@pytest.mark.parametrize("abort", [True, False])
def test_ctrl_c_aborts_with_abort_and_otherwise_says_how_to_reattach(ready, tmp_path, abort):
    ship(ready, tmp_path, "v1")
    eb_api.set_delay(0.3)

    def out(line):
        if "Deploying new version v2" in line:
            raise KeyboardInterrupt

    with pytest.raises(DeployError) as stopped:
        release.release(ready, ROOT, APP, ENV, "v2", follow.Policy(timeout=5, poll=POLL, abort=abort), tmp_path,
                        out=out)
    if abort:
        assert stopped.value.exit_code == DEPLOY_FAILED and "interrupted; aborted" in str(stopped.value)
        assert state(ready).version == "v1"
    else:
        assert stopped.value.exit_code == INTERRUPTED
        assert "python -m deploy watch --app board --env board-test" in str(stopped.value)
        lines = []
        watched = follow.watch(ready, APP, ENV, follow.Policy(timeout=5, poll=POLL), out=lines.append)
        assert watched.version == "v2" and watched.healthy
        assert any("Deploying new version v2" in line for line in lines)  # from before it re-attached


def test_watch_of_a_failing_update_exits_1_with_the_causes(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.mark_bad("v2")
    with pytest.raises(DeployError):
        ship(ready, tmp_path, "v2", rollback=False)
    with pytest.raises(follow.Failed) as failed:
        follow.watch(ready, APP, ENV, follow.Policy(timeout=5, poll=POLL), out=lambda line: None)
    assert failed.value.exit_code == DEPLOY_FAILED and "100.0 % of the requests are failing" in str(failed.value)


def test_a_failed_deploy_that_left_the_old_version_running_is_not_redeployed(ready, tmp_path):
    ship(ready, tmp_path, "v1")
    eb_api.keep_out("v2")
    with pytest.raises(DeployError) as failure:
        ship(ready, tmp_path, "v2")
    assert failure.value.exit_code == DEPLOY_FAILED
    assert "board-test is back on v1 and healthy: nothing to roll back" in str(failure.value)
    assert sum("Deploying new version v1" in message for message in events(ready)) == 1  # v1's own release only
