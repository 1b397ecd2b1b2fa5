"""`flask seed` creates what it is asked for, and refuses nonsense clearly."""

import pytest

from board.models import Author, Post
from tests.board.browsing import count, login
from tests.conftest import make_app


def test_seed_creates_the_counts_asked_for(app, runner):
    result = runner.invoke(args=["seed", "--authors", "3", "--posts", "45"])
    assert result.exit_code == 0, result.output
    assert "Created 3 authors and 45 posts" in result.output
    assert "seeded 45/45 posts" in result.stderr
    assert count(app, Author) == 3 and count(app, Post) == 45


def test_seeded_posts_page_and_seeded_authors_log_in(app, runner, client):
    app.config["POSTS_PER_PAGE"] = 10
    result = runner.invoke(args=["seed", "--authors", "2", "--posts", "25"])
    email = result.output.split("Log in as ")[1].split()[0]
    assert login(client, email=email, password="board-demo").status_code == 302
    seen, cursor = [], None
    while True:
        body = client.get("/api/posts", query_string={"cursor": cursor} if cursor else {}).json
        seen += [p["slug"] for p in body["posts"]]
        if not (cursor := body["next_cursor"]):
            break
    assert len(seen) == len(set(seen)) == 25


def test_seed_twice_adds_more_without_clashes(app, runner):
    for _ in range(2):
        assert runner.invoke(args=["seed", "--authors", "1", "--posts", "5"]).exit_code == 0
    assert count(app, Post) == 10


@pytest.mark.parametrize(("args", "message"), [
    (["--authors", "0"], "0 is not in the range 1<=x<=100000"),
    (["--posts", "-5"], "-5 is not in the range"),
    (["--posts", "many"], "'many' is not a valid integer"),
])
def test_seed_rejects_bad_arguments(app, runner, args, message):
    result = runner.invoke(args=["seed", *args])
    assert result.exit_code == 2 and message in result.output
    assert count(app, Post) == 0


def test_seed_on_an_empty_database_says_to_upgrade_first(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 1
    assert "run `flask db upgrade` first" in result.output
