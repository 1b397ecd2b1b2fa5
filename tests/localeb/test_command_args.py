"""`python -m localeb run`'s arguments: properties from an env-file, one-line errors."""

from __future__ import annotations

import pytest

from localeb.cli import main
from localeb.errors import LocalEBError
from localeb.run import properties_from


def test_an_env_file_gives_the_properties_multi_line_values_included(tmp_path):
    env_file = tmp_path / "local.env"
    env_file.write_text('# database elsewhere\nDATABASE_URL=postgresql://u:p@db/board\nSECRET_KEY="two\nlines"\n'
                        "EMPTY=\n")
    assert properties_from(env_file) == {"DATABASE_URL": "postgresql://u:p@db/board", "SECRET_KEY": "two\nlines",
                                         "EMPTY": ""}
    assert properties_from(None) is None  # no file: the local PostgreSQL and a generated SECRET_KEY


def test_a_missing_env_file_is_one_line(tmp_path):
    with pytest.raises(LocalEBError, match="no such file"):
        properties_from(tmp_path / "missing.env")


@pytest.mark.parametrize(("args", "message"), [(["--instances", "0"], "argument --instances: must be at least 1"),
                                               (["--port", "70000"], "argument --port: 70000 is not a TCP port")])
def test_bad_counts_and_ports_are_one_line(capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        main(["run", *args, "--label", "x"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message)


def test_an_unknown_platform_is_refused_with_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--platform", "ruby", "--label", "x"])
    assert exit_.value.code == 2
    assert "argument --platform: invalid choice: 'ruby'" in capsys.readouterr().err


def test_the_platform_switch_reaches_the_local_fleet(monkeypatch, tmp_path):
    from localeb import run

    made = {}

    class StoppedFleet:
        def __init__(self, **kwargs):
            made.update(kwargs)

        def start(self):
            raise KeyboardInterrupt  # as if Ctrl-C came before anything started

        def stop(self):
            made["stopped"] = True

    monkeypatch.setattr(run, "Fleet", StoppedFleet)
    monkeypatch.setattr(run.docker, "available", lambda: None)
    (tmp_path / "local.env").write_text("SECRET_KEY=x\n")
    assert main(["run", "--platform", "python", "--label", "x", "--env-file", str(tmp_path / "local.env")]) == 0
    assert made["platform"] == "python" and made["stopped"]
