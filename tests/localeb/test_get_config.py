"""The local instance's get-config answers the forms EB's "Platform script tools" page documents, and only those."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from deploy.namespaces import APPLICATION_ENVIRONMENT, ENVIRONMENT_SECRETS
from testkit.tree import ROOT

GET_CONFIG = ROOT / "localeb" / "instance-image" / "get-config"
OPTIONS = {ENVIRONMENT_SECRETS: {"DATABASE_URL": "arn:aws:secretsmanager:us-east-1:1:secret:db"},
           APPLICATION_ENVIRONMENT: {"APP_ENV": "production"}}


@pytest.fixture
def get_config(tmp_path):
    (tmp_path / "optionsettings.json").write_text(json.dumps(OPTIONS))
    (tmp_path / "environment.json").write_text(json.dumps({"APP_ENV": "production"}))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(GET_CONFIG), *args], capture_output=True, text=True,
                              env={"LOCALEB_CONFIG_DIR": str(tmp_path)})
    return run


def test_optionsettings_alone_lists_every_namespace(get_config):
    assert json.loads(get_config("optionsettings").stdout) == OPTIONS


def test_one_option_is_named_by_namespace_and_option_and_printed_bare(get_config):
    answer = get_config("optionsettings", "-n", ENVIRONMENT_SECRETS, "-o", "DATABASE_URL")
    assert answer.returncode == 0 and answer.stdout == "arn:aws:secretsmanager:us-east-1:1:secret:db\n"
    assert get_config("environment", "-k", "APP_ENV").stdout == "production\n"


@pytest.mark.parametrize("args", [("-n", ENVIRONMENT_SECRETS), ("-o", "DATABASE_URL"),
                                  ("environment", "-n", ENVIRONMENT_SECRETS, "-o", "X")],
                         ids=["namespace-alone", "option-alone", "not-optionsettings"])
def test_an_undocumented_form_is_refused_not_guessed(get_config, args):
    argv = args if args[0] == "environment" else ("optionsettings", *args)
    answer = get_config(*argv)
    assert answer.returncode == 2 and "-n NAMESPACE and -o OPTION go together" in answer.stderr
    assert answer.stdout == ""


def test_an_option_not_set_is_an_error(get_config):
    answer = get_config("optionsettings", "-n", ENVIRONMENT_SECRETS, "-o", "NOPE")
    assert answer.returncode == 1 and "is not set" in answer.stderr
