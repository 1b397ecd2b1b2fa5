"""`flask seed`: demo authors and posts, fast enough for a million posts."""

from __future__ import annotations

import csv
import io
import itertools
import random
import secrets
import time
from datetime import timedelta

import click
import sqlalchemy as sa
from flask import Flask
from werkzeug.security import generate_password_hash

from .extensions import db
from .models import Author, Post, utcnow

BATCH = 20_000
SEED_PASSWORD = "board-demo"  # noqa: S105 (demo accounts, printed for the user)
WORDS = ("river", "lantern", "quiet", "harbor", "maple", "signal", "orbit", "velvet", "copper", "meadow", "ember",
         "prairie", "tidal", "granite", "whisper", "falcon", "cedar", "aurora", "summit", "ripple", "canyon")


def demo_text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def post_rows(author_ids: list[int], count: int, token: str):
    """Rows oldest first, about a second apart, so paging has depth and keys are distinct."""
    rng = random.Random(count)  # the same text for the same request
    # A pool of texts, reused: generating a million distinct ones would dominate the run.
    titles = [demo_text(rng, 5).capitalize() for _ in range(509)]
    contents = [demo_text(rng, 60) + "." for _ in range(521)]
    start = utcnow() - timedelta(seconds=count)
    for number in range(count):
        moment = start + timedelta(seconds=number, microseconds=rng.randrange(1_000_000))
        yield {"title": titles[number % len(titles)], "slug": f"seed-{token}-{number + 1}",
               "content": contents[number % len(contents)], "author_id": author_ids[number % len(author_ids)],
               "created_at": moment, "updated_at": moment}


def copy_posts(rows, connection) -> None:
    """PostgreSQL COPY: an order of magnitude faster than INSERT for bulk rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(
            [
                row["title"],
                row["slug"],
                row["content"],
                row["author_id"],
                row["created_at"].isoformat(),
                row["updated_at"].isoformat(),
            ]
        )
    buffer.seek(0)
    raw = connection.connection.dbapi_connection
    with raw.cursor() as cursor:
        cursor.copy_expert(
            "COPY posts (title, slug, content, author_id, created_at, updated_at) FROM STDIN WITH (FORMAT csv)", buffer
        )


def seed(authors: int, posts: int, progress=lambda done, total: None) -> dict:
    token = secrets.token_hex(3)  # lets seed run again without slug or email clashes
    password_hash = generate_password_hash(SEED_PASSWORD)  # once: hashing is slow on purpose
    with db.engine.begin() as connection:
        connection.execute(
            sa.insert(Author),
            [
                {
                    "name": f"Demo author {n}",
                    "email": f"demo-{token}-{n}@example.com",
                    "password_hash": password_hash,
                    "created_at": utcnow(),
                }
                for n in range(1, authors + 1)
            ],
        )
        author_ids = list(
            connection.scalars(sa.select(Author.id).where(Author.email.like(f"demo-{token}-%")).order_by(Author.id))
        )
    rows = post_rows(author_ids, posts, token)
    done = 0
    while batch := list(itertools.islice(rows, BATCH)):
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                copy_posts(batch, connection)
            else:
                connection.execute(sa.insert(Post), batch)
        done += len(batch)
        progress(done, posts)
    return {"authors": authors, "posts": posts, "email": f"demo-{token}-1@example.com"}


def register(app: Flask) -> None:
    @app.cli.command("seed")
    @click.option(
        "--authors",
        type=click.IntRange(min=1, max=100_000),
        default=10,
        show_default=True,
        help="Demo authors to create.",
    )
    @click.option(
        "--posts",
        type=click.IntRange(min=0, max=50_000_000),
        default=100,
        show_default=True,
        help="Demo posts to create, spread over the authors.",
    )
    def seed_command(authors: int, posts: int):
        """Fill the database with demo authors and posts."""
        if not sa.inspect(db.engine).has_table(Post.__tablename__):
            raise click.ClickException("the database has no tables yet: run `flask db upgrade` first")
        started = time.monotonic()

        step = max(BATCH, posts // 10)

        def progress(done: int, total: int) -> None:
            if done % step < BATCH or done == total:  # about ten lines, whatever the size
                click.echo(f"seeded {done:,}/{total:,} posts ({time.monotonic() - started:.1f} s)", err=True)

        result = seed(authors, posts, progress)
        click.echo(
            f"Created {result['authors']:,} authors and {result['posts']:,} posts in "
            f"{time.monotonic() - started:.1f} s. Log in as {result['email']} "
            f"with the password {SEED_PASSWORD!r}."
        )
