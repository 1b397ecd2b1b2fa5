"""Promotion from staging to production on moto's Elastic Beanstalk (with the extension): the same label goes
on; production refuses what staging never proved and commits older than its own, with nothing changed."""

from __future__ import annotations

import subprocess

import pytest

from deploy import commits, environment, follow, history, promote, provision
from deploy.cli import main
from deploy.errors import DEPLOY_FAILED, USAGE, DeployError
from localeb import eb_api
from tests.deploy.conftest import APP, ENV, POLL, ship, state

STAGING, PROD = ENV, "board-prod"


def git(repo, *args) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A git history: main's commits first, second, third, and a side branch off first."""
    path = tmp_path / "repo"
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(path))
    labels = {}
    for name in ("first", "second", "third"):
        git(path, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "--quiet", "--allow-empty", "-m", name)
        labels[name] = git(path, "rev-parse", "--short=12", "HEAD")
    git(path, "checkout", "--quiet", "-b", "side", labels["first"])
    git(path, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "--quiet", "--allow-empty", "-m", "side")
    labels["side"] = git(path, "rev-parse", "--short=12", "HEAD")
    git(path, "checkout", "--quiet", "main")
    return path, labels


@pytest.fixture
def both(ready):
    provision.provision(ready, APP, PROD, out=lambda line: None)
    environment.wait(ready.eb, APP, PROD, lambda s: s.status == "Ready", 5, POLL)
    return ready


def promoted(clients, root, label, lines=None, allow_older=False, **policy):
    return promote.promote(clients, root, APP, STAGING, PROD, label,
                           follow.Policy(**{"timeout": 5, "poll": POLL, **policy}), allow_older,
                           out=lines.append if lines is not None else (lambda line: None))


def test_a_label_healthy_on_staging_goes_to_production_as_the_same_version(both, repo, tmp_path):
    root, labels = repo
    ship(both, tmp_path, labels["first"], env=STAGING, soak=0.2)
    lines = []
    after = promoted(both, root, labels["first"], lines, soak=0.2)
    assert (after.status, after.health, after.version) == ("Ready", "Green", labels["first"])
    assert [(e.label, e.outcome) for e in history.Record(both, APP, PROD).entries()][-1] == (labels["first"],
                                                                                          history.HEALTHY)
    assert len(both.eb.describe_application_versions(ApplicationName=APP)["ApplicationVersions"]) == 1  # no rebuild
    assert any(line.startswith(f"promoting {labels['first']} from {STAGING} to {PROD}") for line in lines)


def test_production_refuses_a_label_that_failed_on_staging_and_changes_nothing(both, repo, tmp_path):
    root, labels = repo
    ship(both, tmp_path, labels["first"], env=STAGING)
    promoted(both, root, labels["first"])
    eb_api.mark_bad(labels["second"])
    with pytest.raises(DeployError):
        ship(both, tmp_path, labels["second"], env=STAGING)  # rolled back on staging: never healthy there
    with pytest.raises(DeployError) as refused:
        promoted(both, root, labels["second"])
    assert refused.value.exit_code == USAGE
    assert str(refused.value).startswith(f"{labels['second']} never ran healthy in {STAGING}: release it there")
    assert state(both, PROD).version == labels["first"]


def test_production_refuses_an_older_commit_unless_allowed_explicitly(both, repo, tmp_path):
    root, labels = repo
    for name in ("first", "third"):
        ship(both, tmp_path, labels[name], env=STAGING)
    promoted(both, root, labels["third"])
    with pytest.raises(DeployError) as refused:
        promoted(both, root, labels["first"])  # an old workflow run re-run
    assert refused.value.exit_code == USAGE
    assert str(refused.value) == (f"{labels['first']} is older than {labels['third']}, which {PROD} runs (an old run "
                                  f"re-run, or runs that finished out of order?): pass --allow-older to roll {PROD} "
                                  "back to it on purpose")
    assert state(both, PROD).version == labels["third"]
    assert promoted(both, root, labels["first"], allow_older=True).version == labels["first"]


def test_a_failed_promotion_rolls_production_back_to_what_it_ran(both, repo, tmp_path):
    root, labels = repo
    ship(both, tmp_path, labels["first"], env=STAGING)
    promoted(both, root, labels["first"])
    ship(both, tmp_path, labels["second"], env=STAGING)
    eb_api.mark_bad(labels["second"])  # healthy on staging, broken in production
    with pytest.raises(DeployError) as failed:
        promoted(both, root, labels["second"])
    assert failed.value.exit_code == DEPLOY_FAILED and f"rolled back to {labels['first']}" in str(failed.value)
    assert state(both, PROD).version == labels["first"]


def test_promoting_what_production_already_runs_changes_nothing(both, repo, tmp_path):
    root, labels = repo
    ship(both, tmp_path, labels["first"], env=STAGING)
    promoted(both, root, labels["first"])
    lines = []
    promoted(both, root, labels["first"], lines)
    assert lines == [f"{PROD} already runs {labels['first']}, healthy: nothing to promote"]


def test_the_promote_command_exits_2_with_one_line_for_a_label_staging_never_ran(both, tmp_path, capsys):
    ship(both, tmp_path, "v1", env=STAGING)
    source = both.eb.describe_application_versions(ApplicationName=APP, VersionLabels=["v1"])[
        "ApplicationVersions"][0]["SourceBundle"]
    both.eb.create_application_version(ApplicationName=APP, VersionLabel="0123456789ab", SourceBundle=source)
    code = main(["promote", "--app", APP, "--from", STAGING, "--to", PROD, "--label", "0123456789ab",
                 "--region", "us-east-1", "--poll", str(POLL), "--timeout", "5"])
    assert code == USAGE
    assert capsys.readouterr().err == (f"deploy: 0123456789ab never ran healthy in {STAGING}: release it there first "
                                       f"(and let it soak); {PROD} takes only what {STAGING} proved\n")
    assert state(both, PROD).version != "0123456789ab"


def test_the_promote_command_refuses_an_unknown_label(both, capsys):
    code = main(["promote", "--app", APP, "--from", STAGING, "--to", PROD, "--label", "nosuch", "--region",
                 "us-east-1"])
    assert code == USAGE and capsys.readouterr().err == f"deploy: no version 'nosuch' in application '{APP}'\n"


def test_a_commit_on_another_branch_is_refused_as_diverged(repo):
    root, labels = repo
    with pytest.raises(DeployError, match=f"{labels['side']} does not descend from {labels['second']}, which "
                                          f"{PROD} runs"):
        commits.require_not_older(root, labels["side"], labels["second"], PROD)


def test_a_newer_commit_or_a_dirty_label_of_a_newer_one_passes(repo):
    root, labels = repo
    commits.require_not_older(root, labels["third"], labels["first"], PROD)
    commits.require_not_older(root, labels["third"] + "-dirty", labels["third"], PROD)
    commits.require_not_older(root, labels["first"], None, PROD)  # production runs nothing yet


def test_a_shallow_clone_cannot_order_commits_and_says_how_to_fetch_them(repo, tmp_path):
    root, labels = repo
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "--quiet", "--depth", "1", f"file://{root}", str(shallow))  # actions/checkout's default
    with pytest.raises(DeployError) as refused:
        commits.require_not_older(shallow, labels["third"], labels["first"], PROD)
    assert f"commit {labels['first']} ({labels['first']}) is not in this clone" in str(refused.value)
    assert "fetch-depth: 0" in str(refused.value) and "--allow-older" in str(refused.value)


def test_a_label_that_names_no_commit_cannot_be_ordered(repo):
    root, labels = repo
    with pytest.raises(DeployError, match="app-eb-1 names no git commit, so whether .* is older cannot be told"):
        commits.require_not_older(root, labels["third"], "app-eb-1", PROD)
