"""`python -m deploy local`'s arguments: properties from an env-file, one-line errors."""

from __future__ import annotations

import pytest

from deploy.cli import main
from deploy.errors import DeployError
from deploy.local.command import properties_from


def test_an_env_file_gives_the_properties_multi_line_values_included(tmp_path):
    env_file = tmp_path / "local.env"
    env_file.write_text('# database elsewhere\nDATABASE_URL=postgresql://u:p@db/board\nSECRET_KEY="two\nlines"\n'
                        "EMPTY=\n")
    assert properties_from(env_file) == {"DATABASE_URL": "postgresql://u:p@db/board", "SECRET_KEY": "two\nlines",
                                         "EMPTY": ""}
    assert properties_from(None) is None  # no file: the local PostgreSQL and a generated SECRET_KEY


def test_a_missing_env_file_is_one_line(tmp_path):
    with pytest.raises(DeployError, match="no such file"):
        properties_from(tmp_path / "missing.env")


def test_bad_counts_and_ports_are_one_line(capsys):
    assert main(["local", "--instances", "0", "--label", "x"]) == 2
    assert capsys.readouterr().err.strip() == "deploy: --instances must be at least 1 and --port a TCP port"
    assert main(["local", "--port", "70000", "--label", "x"]) == 2
