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


def test_an_unknown_platform_is_refused_with_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["local", "--platform", "ruby", "--label", "x"])
    assert exit_.value.code == 2
    assert "argument --platform: invalid choice: 'ruby'" in capsys.readouterr().err


def test_the_platform_switch_reaches_the_local_fleet(monkeypatch, tmp_path):
    from deploy.local import command

    made = {}

    class StoppedFleet:
        def __init__(self, **kwargs):
            made.update(kwargs)

        def start(self):
            raise KeyboardInterrupt  # as if Ctrl-C came before anything started

        def stop(self):
            made["stopped"] = True

    monkeypatch.setattr(command, "Fleet", StoppedFleet)
    monkeypatch.setattr(command.docker, "available", lambda: None)
    (tmp_path / "local.env").write_text("SECRET_KEY=x\n")
    assert main(["local", "--platform", "python", "--label", "x", "--env-file", str(tmp_path / "local.env")]) == 0
    assert made["platform"] == "python" and made["stopped"]
