"""The README says what the code does: its configuration table, first commands and latest figures."""

import re
from pathlib import Path

from board.config import VARIABLES

README = Path(__file__).resolve().parents[1] / "README.md"


def config_table_rows():
    return re.findall(r"^\| `([A-Z_]+)` \| ([^|]*) \|", README.read_text(), flags=re.MULTILINE)


def test_readme_lists_every_variable_with_its_default():
    documented = {name: default.strip().strip("`") for name, default in config_table_rows()}
    assert documented == {v.name: v.documented for v in VARIABLES}


def test_readme_leads_with_the_two_commands():
    text = README.read_text()
    first_section = text.split("\n## ", 2)[1]
    assert "make run" in first_section and "make test" in first_section


def test_readme_shows_the_latest_bench_figures():
    latest = (README.parent / "bench" / "results" / "latest.md").read_text()
    assert latest.strip() in README.read_text(), "paste bench/results/latest.md into the README's Figures section"


def test_readme_states_the_login_lockout_the_code_enforces():
    from board import throttle

    match = re.search(r"(\d+) wrong passwords for one address lock it for (\d+) minutes", README.read_text())
    assert match, "the README no longer says when logins lock"
    assert (int(match[1]), int(match[2])) == (throttle.MAX_FAILURES, throttle.WINDOW.total_seconds() // 60)
