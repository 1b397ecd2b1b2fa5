"""The README says what the code does: its configuration table, first commands and latest figures."""

import json
import re
from pathlib import Path

from board.config import VARIABLES

README = Path(__file__).resolve().parents[1] / "README.md"


def config_table_rows():
    return re.findall(r"^\| `([A-Z_]+)` \| ([^|]*) \| (.*) \|$", README.read_text(), flags=re.MULTILINE)


def test_readme_lists_every_variable_with_its_default_and_meaning():
    documented = {name: (default.strip().strip("`"), meaning) for name, default, meaning in config_table_rows()}
    assert documented == {v.name: (v.documented, v.help) for v in VARIABLES}


def test_readme_leads_with_the_two_commands():
    text = README.read_text()
    first_section = text.split("\n## ", 2)[1]
    assert "make run" in first_section and "make test" in first_section


def test_readme_shows_the_latest_bench_figures_and_links_to_the_rest():
    from bench.__main__ import RESULTS, summary

    text = README.read_text()
    latest = summary(json.loads((RESULTS / "latest.json").read_text()))
    assert latest.strip() in text, "paste what `make bench` printed for the README into its Figures section"
    assert "](bench/results/latest.md)" in text


def test_readme_states_the_login_lockout_the_code_enforces():
    from board import throttle

    match = re.search(r"(\d+) wrong passwords for one address lock it for (\d+) minutes", README.read_text())
    assert match, "the README no longer says when logins lock"
    assert (int(match[1]), int(match[2])) == (throttle.MAX_FAILURES, throttle.WINDOW.total_seconds() // 60)
