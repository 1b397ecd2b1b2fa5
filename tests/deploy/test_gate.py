"""The compatibility gate: `python -m deploy release` and `rollback` refuse a schema the serving code breaks on.

Each test works in a git repository made from a copy of the tree, so the
serving version's label names a real commit, and runs the real command
against moto over HTTP; the gate itself runs the real code on PostgreSQL.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import boto3
import pytest

from deploy import gate
from deploy.errors import DeployError
from testkit.deploy_cli import deploy_cli
from testkit.tree import commit, git, git_repo, migration_head, revision

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("postgres_binaries")]
APP, ENV = "board", "board-gate"


@pytest.fixture
def repo(tmp_path) -> Path:
    return git_repo(tmp_path / "board")


def deploy(endpoint: str, repo: Path, *args: str) -> subprocess.CompletedProcess:
    return deploy_cli(endpoint, *args, tree=repo)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def refusal(result: subprocess.CompletedProcess) -> str:
    """The one line a refusal ends with (exit 2: refused, nothing changed)."""
    assert result.returncode == 2, result.stdout + result.stderr
    return result.stderr.strip().splitlines()[-1]


def names_the_missing_column(reason: str) -> bool:
    return re.search(r'column "?(posts\.)?updated_at"? .*does not exist', reason) is not None


def eb(endpoint: str):
    return boto3.client("elasticbeanstalk", region_name="us-east-1", endpoint_url=endpoint)


def serving(endpoint: str, env: str = ENV) -> str:
    return eb(endpoint).describe_environments(ApplicationName=APP, EnvironmentNames=[env])["Environments"][0][
        "VersionLabel"]


def labels(endpoint: str) -> set[str]:
    versions = eb(endpoint).describe_application_versions(ApplicationName=APP)["ApplicationVersions"]
    return {version["VersionLabel"] for version in versions}


def released(endpoint: str, repo: Path, *extra: str) -> str:
    label = git(repo, "rev-parse", "--short=12", "HEAD")
    ok(deploy(endpoint, repo, "release", "--app", APP, "--env", ENV, "--label", label, *extra))
    return label


# A contract step its author wrongly believes safe: the marker gets it past `flask db check-safety`, and the
# version serving still selects the column.
DROP_UPDATED_AT = ("op.drop_column('posts', 'updated_at')",
                   'safe_because = {"drop_column posts.updated_at": "nothing reads it (wrong: the model does)"}')


def test_a_release_whose_migration_breaks_the_serving_version_is_refused_before_anything_is_deployed(server, repo):
    ok(deploy(server, repo, "provision", "--app", APP, "--env", ENV))
    first = commit(repo, "serving")
    first_release = ok(deploy(server, repo, "release", "--app", APP, "--env", ENV, "--label", first))
    assert "gate: no version serves yet" in first_release.stdout
    revision(repo, "9001_drop", migration_head(), *DROP_UPDATED_AT)
    second = commit(repo, "drop posts.updated_at")

    refused = deploy(server, repo, "release", "--app", APP, "--env", ENV, "--label", second)
    reason = refusal(refused)
    assert reason.startswith(f"deploy: refused by the gate: {first}, which serves until its instances are replaced, "
                             "breaks on the new schema: ")
    assert names_the_missing_column(reason) and ". Nothing was deployed" in reason, reason
    assert "uploading" not in refused.stdout
    assert serving(server) == first and second not in labels(server)


def test_a_serving_version_whose_commit_cannot_be_found_refuses_and_says_how_to_skip(server, repo):
    ok(deploy(server, repo, "provision", "--app", APP, "--env", ENV))
    commit(repo, "serving")
    ok(deploy(server, repo, "release", "--app", APP, "--env", ENV, "--label", "hand-made"))
    refused = deploy(server, repo, "release", "--app", APP, "--env", ENV, "--label", "next")
    assert refusal(refused) == (
        "deploy: the version serving is 'hand-made', not a git short SHA: the gate cannot find its code (or pass "
        "--no-gate to deploy without it)")
    with pytest.raises(DeployError, match=r"commit 0123456789ab is not in this checkout \(a shallow clone\? "):
        gate.commit_of(repo, "0123456789ab-dirty")
    ok(deploy(server, repo, "release", "--app", APP, "--env", ENV, "--label", "next", "--no-gate"))
    assert serving(server) == "next"


def test_a_rollback_across_an_additive_migration_passes_the_gate_and_one_across_a_drop_is_refused(server, repo):
    ok(deploy(server, repo, "provision", "--app", APP, "--env", ENV))
    commit(repo, "first")
    first = released(server, repo)
    revision(repo, "9001_subtitle", migration_head(),
                 "op.add_column('posts', sa.Column('subtitle', sa.Text(), nullable=True))")
    commit(repo, "add posts.subtitle")
    second = released(server, repo)

    back = ok(deploy(server, repo, "rollback", "--app", APP, "--env", ENV, "--to", first))
    assert f"gate: {first} " in back.stdout and "gate: passed" in back.stdout
    assert serving(server) == first

    revision(repo, "9002_drop", "9001_subtitle", *DROP_UPDATED_AT)
    commit(repo, "drop posts.updated_at")
    third = released(server, repo, "--no-gate")
    reason = refusal(deploy(server, repo, "rollback", "--app", APP, "--env", ENV, "--to", second))
    assert reason.startswith(f"deploy: refused by the gate: {second} breaks on the schema {third} left "
                             "(migrations are not rolled back): ")
    assert names_the_missing_column(reason), reason
    assert serving(server) == third


def test_a_promotion_whose_migration_breaks_the_version_production_serves_is_refused(server, repo):
    # Production can lag staging by more than one version (a refused approval, a re-run): staging's own gate
    # checked the new version against what staging served, not against what production serves.
    production = "board-gate-prod"
    for env in (ENV, production):
        ok(deploy(server, repo, "provision", "--app", APP, "--env", env))
    commit(repo, "first")
    first = released(server, repo)
    promoted = ok(deploy(server, repo, "promote", "--app", APP, "--from", ENV, "--to", production, "--label", first))
    assert "gate: no version serves yet" in promoted.stdout
    revision(repo, "9001_drop", migration_head(), *DROP_UPDATED_AT)
    commit(repo, "drop posts.updated_at")
    second = released(server, repo, "--no-gate")  # staging's operator skipped its gate

    promote = ("promote", "--app", APP, "--from", ENV, "--to", production, "--label", second)
    reason = refusal(deploy(server, repo, *promote))
    assert reason.startswith(f"deploy: refused by the gate: {first}, which serves until its instances are replaced, "
                             "breaks on the new schema: ")
    assert names_the_missing_column(reason), reason
    assert serving(server, production) == first
    ok(deploy(server, repo, *promote, "--no-gate"))


def test_a_release_that_changes_no_migration_has_nothing_to_gate_and_a_new_revision_has(repo):
    label = commit(repo, "serving")
    (repo / "board" / "templates" / "about.html").write_text("changed")
    lines: list[str] = []
    gate.check_release(repo, label, lines.append)
    assert lines == [f"gate: migrations/ is as {label} has it: the schema does not change, nothing to check"]
    revision(repo, "9001_subtitle", migration_head(), "op.add_column('posts', sa.Column('subtitle', sa.Text()))")
    assert not gate.same_migrations(repo, label)  # not committed yet, and still part of the release


def test_a_label_eb_deploy_made_names_its_commit(repo):
    commit(repo, "first")
    git(repo, "tag", "v1.0")
    head = git(repo, "rev-parse", "HEAD")
    commit_after_tag = (repo / "board" / "_after_tag.py")
    commit_after_tag.write_text("# after the tag\n")
    commit(repo, "second")
    second = git(repo, "rev-parse", "HEAD")
    # What the EB CLI's label is made of: `git describe --always --abbrev=4`, dots as underscores, and a time.
    for described, expected in ((git(repo, "describe", "--always", "--abbrev=4"), second),
                                (git(repo, "rev-parse", "--short=4", head), head)):
        label = f"app-{described.replace('.', '_')}-231203_152233123456"
        assert gate.commit_of(repo, label) == expected, label
    with pytest.raises(DeployError, match="not a git short SHA"):
        gate.commit_of(repo, "app-v1_0-231203_152233123456")  # a label made on the tag itself names no commit
