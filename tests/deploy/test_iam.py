"""The deploy role's policy allows every Elastic Beanstalk call the release commands make."""

import json
import re
from pathlib import Path

from testkit.tree import ROOT

IAM = ROOT / "deploy" / "iam"
# provision runs as an administrator
RELEASE_MODULES = ["release.py", "follow.py", "environment.py", "prune.py", "cli.py", "versions.py", "history.py"]


def allowed_actions() -> set[str]:
    policy = json.loads((IAM / "deploy-policy.json").read_text())
    actions = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def eb_calls() -> set[str]:
    calls = set()
    for name in RELEASE_MODULES:
        text = (ROOT / "deploy" / name).read_text()
        calls.update(call for call in re.findall(r"\beb\.([a-z_]+)\(", text) if call != "get_paginator")
        calls.update(re.findall(r'get_paginator\("([a-z_]+)"\)', text))
    return {"elasticbeanstalk:" + "".join(part.title() for part in call.split("_")) for call in calls}


def ecr_calls() -> set[str]:
    text = (ROOT / "deploy" / "image.py").read_text()
    calls = re.findall(r"\becr\.([a-z_]+)\(", text)
    return {"ecr:" + "".join(part.title() for part in call.split("_")) for call in calls}


def test_every_call_of_a_release_by_image_is_allowed_and_the_push_too():
    calls = ecr_calls()
    assert {"ecr:GetAuthorizationToken", "ecr:DescribeImages"} <= calls  # the scan finds the calls
    # what `docker push` asks of ECR (Amazon ECR's "Required IAM permissions for pushing an image")
    push = {"ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload", "ecr:PutImage"}
    assert (calls | push) - allowed_actions() == set()


def test_every_release_call_is_allowed():
    calls = eb_calls()
    assert "elasticbeanstalk:UpdateEnvironment" in calls  # the scan finds the calls
    assert calls - allowed_actions() == set()


def test_the_policies_are_valid_json_with_placeholders_to_fill():
    for path in IAM.glob("*.json"):
        text = path.read_text()
        json.loads(text)
        assert "ACCOUNT_ID" in text


def test_the_github_trust_is_limited_to_one_repository_environment():
    trust = json.loads((IAM / "github-oidc-trust.json").read_text())
    [statement] = trust["Statement"]
    assert statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    subjects = statement["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"]
    assert subjects and all(subject.startswith("repo:OWNER/REPO:environment:") for subject in subjects)
    assert Path(IAM / "README.md").exists()
