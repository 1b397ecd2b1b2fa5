"""EB's option namespaces have one home, deploy/namespaces.py: code that spells one elsewhere can drift from it
(or name a different namespace with the same constant name)."""

from __future__ import annotations

import ast
import importlib.util
import re

from deploy import namespaces
from testkit.tree import ROOT, tracked_files

NAMESPACE = re.compile(r"aws:(elasticbeanstalk|autoscaling|elbv2|ec2|rds):")
HOME = "deploy/namespaces.py"
# EB's reference table the repo's .ebextensions are checked against, and a test of names EB does not have.
REFERENCES = {"tests/eb/options.py", "tests/eb/test_ebextensions.py"}
# Hooks run on the instance from the bundle alone, where deploy/ is not installed: they keep their own copy,
# checked against the home below.
HOOKS = ".platform/"


def spelled_namespaces(source: str) -> list[str]:
    """String literals (docstrings aside) that start with an EB namespace."""
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings and NAMESPACE.match(node.value)]


def test_eb_namespaces_are_spelled_only_in_their_home():
    elsewhere = {name: found for name in tracked_files() if name.endswith(".py") and name != HOME
                 and name not in REFERENCES and not name.startswith(HOOKS)
                 and (found := spelled_namespaces((ROOT / name).read_text(encoding="utf-8")))}
    assert elsewhere == {}, f"import these from {HOME}"


def test_the_home_names_each_namespace_once():
    from deploy import namespaces

    spelled = [value for name, value in vars(namespaces).items() if name.isupper()]
    assert spelled and all(NAMESPACE.match(value) for value in spelled)
    assert len(set(spelled)) == len(spelled)


def test_the_migrate_hook_reads_the_secrets_namespace_the_home_names():
    path = ROOT / ".platform/hooks/predeploy/01_migrate.py"
    spec = importlib.util.spec_from_file_location("migrate_hook", path)
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    assert hook.SECRETS == namespaces.ENVIRONMENT_SECRETS
