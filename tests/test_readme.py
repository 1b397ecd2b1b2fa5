"""The README and the docs it sends readers to say what the code does: short, linked, tables equal to the code."""

import os
import re
import subprocess

import pytest

from board.config import VARIABLES
from testkit.tree import ROOT, copy_tree

README = ROOT / "README.md"
CONFIGURATION = ROOT / "docs" / "configuration.md"
APP = ROOT / "docs" / "app.md"
DEVELOP = ROOT / "docs" / "develop.md"


def config_table_rows():
    return re.findall(r"^\| `([A-Z_]+)` \| ([^|]*) \| (.*) \|$", CONFIGURATION.read_text(), flags=re.MULTILINE)


def test_the_configuration_page_lists_every_variable_with_its_default_and_meaning():
    documented = {name: (default.strip().strip("`"), meaning) for name, default, meaning in config_table_rows()}
    assert documented == {v.name: (v.documented, v.help) for v in VARIABLES}


def test_readme_leads_with_the_two_commands():
    text = README.read_text()
    first_section = text.split("\n## ", 2)[1]
    assert "make run" in first_section and "make test" in first_section


def test_readme_is_short_and_every_link_in_it_and_the_docs_leads_somewhere():
    assert len(README.read_text().splitlines()) <= 200
    for page in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not target.startswith(("http://", "https://")):
                assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"


@pytest.mark.slow
def test_the_readme_seed_command_works_as_written(tmp_path):
    [command] = [line.strip() for line in DEVELOP.read_text().splitlines()
                 if line.startswith("    ") and " seed " in line]
    tree = copy_tree(tmp_path / "board")
    (tree / ".venv").symlink_to(ROOT / ".venv")
    # A shell as a reader has it: none of the app's settings exported.
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("APP_ENV", "FLASK_", "SECRET_KEY", "DATABASE_URL", "RDS_"))}
    # `make run` (the README's first command) has upgraded the database by then.
    subprocess.run(["bash", "-c", "APP_ENV=development FLASK_APP=board .venv/bin/flask db upgrade"], cwd=tree,
                   env=env, check=True, capture_output=True)
    result = subprocess.run(["bash", "-c", command], cwd=tree, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Created 50 authors and 10,000 posts" in result.stdout


def test_the_promises_name_the_limits_the_code_has():
    from board import throttle
    from board.config import MAX_CONTENT_LENGTH, REMEMBER_FOR, SESSION_FOR
    from board.forms import PASSWORD_MAX, PASSWORD_MIN
    from board.models import CONTENT_MAX, NAME_MAX, TITLE_MAX

    promises = " ".join(APP.read_text().split("## What the app promises", 1)[1].split("\n## ", 1)[0].split())
    window = int(throttle.WINDOW.total_seconds() // 60)
    for phrase in (f"bodies up to {MAX_CONTENT_LENGTH // 2**20} MiB",
                   f"titles {TITLE_MAX} characters, posts {CONTENT_MAX:,}, names {NAME_MAX}",
                   f"{PASSWORD_MIN} to {PASSWORD_MAX} characters",
                   f"{throttle.PER_CLIENT} per {window} minutes for one client at one address, "
                   f"{throttle.PER_ADDRESS} for all clients together, {throttle.PER_NETWORK} logins and "
                   "registrations per client network in all",
                   f"keeps its own {throttle.PER_CLIENT} attempts there",
                   f"at most {SESSION_FOR.seconds // 3600} hours, or {REMEMBER_FOR.days} days with \"Remember me\""):
        assert phrase in promises, phrase
