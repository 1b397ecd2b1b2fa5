"""`flask db check-safety`: each operation unsafe during a rolling deploy is refused with why and the safe releases."""

from __future__ import annotations

import re
import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from board.migration_safety.check import check
from board.migration_safety.command import report
from testkit.tree import ROOT, migration_head

HEAD = migration_head()


def revisions(tmp_path, *bodies: str, markers: str = "") -> list:
    """The repo's revisions plus one new revision a body (each on the previous): the new ones, judged."""
    versions = Path(tempfile.mkdtemp(dir=tmp_path)) / "versions"
    shutil.copytree(ROOT / "migrations" / "versions", versions, ignore=shutil.ignore_patterns("__pycache__"))
    down = HEAD
    for number, body in enumerate(bodies, start=1):
        (versions / f"new{number}.py").write_text(
            f'revision = "new{number}"\ndown_revision = "{down}"\n'
            "import sqlalchemy as sa\nfrom alembic import op\n"
            f"{markers if number == len(bodies) else ''}\n\n"
            f"def upgrade():\n{textwrap.indent(textwrap.dedent(body).strip(), '    ')}\n\n\n"
            "def downgrade():\n    pass\n")
        down = f"new{number}"
    return check(ScriptDirectory(str(versions.parent)), HEAD)


def refused(tmp_path, *bodies: str, markers: str = "") -> list[str]:
    return [finding.key for finding in revisions(tmp_path, *bodies, markers=markers)[-1].refused()]


def message(tmp_path, body: str) -> str:
    lines: list[str] = []
    report(revisions(tmp_path, body), lines.append)
    return "\n".join(lines)


UNSAFE = {
    "drop_column posts.content": "op.drop_column('posts', 'content')",
    "drop_table login_throttles": "op.drop_table('login_throttles')",
    "rename_column posts.title": "op.alter_column('posts', 'title', new_column_name='headline')",
    "rename_table posts": "op.rename_table('posts', 'articles')",
    "alter_type posts.author_id": "op.alter_column('posts', 'author_id', type_=sa.BigInteger(), "
                                  "existing_type=sa.Integer())",
    "set_not_null posts.extra": """
        op.add_column('posts', sa.Column('extra', sa.Text(), nullable=True))
        with op.batch_alter_table('posts') as batch_op:
            batch_op.alter_column('extra', existing_type=sa.Text(), nullable=False)
    """,
    "add_not_null_column posts.extra": "op.add_column('posts', sa.Column('extra', sa.Text(), nullable=False))",
    "volatile_default posts.token": "op.add_column('posts', sa.Column('token', sa.Text(), nullable=False, "
                                    "server_default=sa.text('gen_random_uuid()::text')))",
    "create_index posts.ix_posts_title": "op.create_index('ix_posts_title', 'posts', ['title'])",
    "add_unique posts.uq_posts_title": "op.create_unique_constraint('uq_posts_title', 'posts', ['title'])",
    "add_foreign_key posts.fk_posts_editor": """
        op.add_column('posts', sa.Column('editor_id', sa.Integer(), nullable=True))
        op.create_foreign_key('fk_posts_editor', 'posts', 'authors', ['editor_id'], ['id'])
    """,
    "add_check posts.ck_posts_short": "op.create_check_constraint('ck_posts_short', 'posts', "
                                      "'length(title) < 100')",
    "update_all_rows posts": "op.execute('UPDATE posts SET title = upper(title)')",
}


@pytest.mark.parametrize("key", UNSAFE)
def test_each_unsafe_operation_is_refused_with_why_and_the_safe_sequence(tmp_path, key):
    assert refused(tmp_path, UNSAFE[key]) == [key]
    text = message(tmp_path, UNSAFE[key])
    assert f"new1: {key}\n  why: " in text
    assert re.search(r"\n  safe sequence:\n    \S.{20,}", text)
    assert f"safe_because = {{{key!r}: " in text


RAW = {
    "drop_column posts.content": "ALTER TABLE posts DROP COLUMN content",
    "rename_column posts.title": 'ALTER TABLE "posts" RENAME COLUMN title TO headline',
    "alter_type posts.title": "ALTER TABLE posts ALTER COLUMN title TYPE varchar(100)",
    "set_not_null authors.name": "ALTER TABLE authors ALTER COLUMN name SET NOT NULL",
    "create_index posts.ix_t": "CREATE INDEX ix_t ON posts (title)",
    "add_unique posts.uq_t": "ALTER TABLE posts ADD CONSTRAINT uq_t UNIQUE (title)",
    "add_foreign_key posts.fk_a": "ALTER TABLE posts ADD CONSTRAINT fk_a FOREIGN KEY (author_id) "
                                  "REFERENCES authors (id)",
    "drop_table posts": "DROP TABLE IF EXISTS posts",
}


@pytest.mark.parametrize("key", RAW)
def test_the_same_steps_in_hand_written_sql_are_refused(tmp_path, key):
    assert refused(tmp_path, f"op.execute({RAW[key]!r})") == [key]


SAFE = {
    "a new table, its index and foreign key": """
        op.create_table('drafts', sa.Column('id', sa.Integer(), primary_key=True),
                        sa.Column('author_id', sa.Integer(), sa.ForeignKey('authors.id'), nullable=False))
        op.create_index('ix_drafts_author_id', 'drafts', ['author_id'])
    """,
    "a nullable column": "op.add_column('posts', sa.Column('subtitle', sa.Text(), nullable=True))",
    "a NOT NULL column with a constant default": "op.add_column('posts', sa.Column('views', sa.Integer(), "
                                                 "nullable=False, server_default='0'))",
    "a concurrent index": """
        with op.get_context().autocommit_block():
            op.create_index('ix_posts_title', 'posts', ['title'], postgresql_concurrently=True)
    """,
    "a unique constraint over a concurrent index": """
        with op.get_context().autocommit_block():
            op.create_index('uq_posts_title', 'posts', ['title'], unique=True, postgresql_concurrently=True)
        op.execute('ALTER TABLE posts ADD CONSTRAINT uq_posts_title UNIQUE USING INDEX uq_posts_title')
    """,
    "a foreign key NOT VALID, then validated": """
        op.add_column('posts', sa.Column('editor_id', sa.Integer(), nullable=True))
        op.create_foreign_key('fk_posts_editor', 'posts', 'authors', ['editor_id'], ['id'],
                              postgresql_not_valid=True)
        op.execute('ALTER TABLE posts VALIDATE CONSTRAINT fk_posts_editor')
    """,
    "a wider varchar": "op.alter_column('posts', 'title', type_=sa.String(400), existing_type=sa.String(200))",
    "dropping NOT NULL and an index": """
        op.alter_column('posts', 'content', nullable=True, existing_nullable=False)
        op.drop_index('ix_posts_created_at_id', table_name='posts')
    """,
    "a batched backfill": "op.execute('UPDATE posts SET title = upper(title) WHERE id BETWEEN 1 AND 1000')",
}


@pytest.mark.parametrize("case", SAFE)
def test_safe_operations_pass(tmp_path, case):
    assert refused(tmp_path, SAFE[case]) == []


def test_not_null_after_a_validated_check_from_an_earlier_revision_passes(tmp_path):
    expand = """
        op.add_column('posts', sa.Column('extra', sa.Text(), nullable=True))
    """
    check_first = """
        op.create_check_constraint('ck_posts_extra', 'posts', 'extra IS NOT NULL', postgresql_not_valid=True)
        op.execute('ALTER TABLE posts VALIDATE CONSTRAINT ck_posts_extra')
    """
    tighten = "op.alter_column('posts', 'extra', nullable=False, existing_type=sa.Text())"
    assert refused(tmp_path, expand, check_first, tighten) == []
    unvalidated = "op.create_check_constraint('ck_posts_extra', 'posts', 'extra IS NOT NULL', " \
                  "postgresql_not_valid=True)"
    assert refused(tmp_path, expand, unvalidated, tighten) == ["set_not_null posts.extra"]


def test_a_contract_step_passes_only_with_a_marker_naming_it_and_why(tmp_path):
    drop = "op.drop_column('posts', 'content')"
    why = 'safe_because = {"drop_column posts.content": "no release since 1a2b3c4d5e6f reads or writes it"}'
    assert refused(tmp_path, drop, markers=why) == []
    lines: list[str] = []
    assert report(revisions(tmp_path, drop, markers=why), lines.append) == 0
    assert lines == ["new1: drop_column posts.content: accepted: no release since 1a2b3c4d5e6f reads or writes it"]
    blank = 'safe_because = {"drop_column posts.content": " "}'
    assert refused(tmp_path, drop, markers=blank) == ["drop_column posts.content"]
    other = 'safe_because = {"drop_column posts.title": "unused"}'
    assert refused(tmp_path, drop, markers=other) == ["drop_column posts.content"]


def test_a_marker_that_excuses_nothing_is_refused(tmp_path):
    judged = revisions(tmp_path, "op.add_column('posts', sa.Column('subtitle', sa.Text()))",
                       markers='safe_because = {"drop_column posts.title": "unused"}')
    lines: list[str] = []
    assert report(judged, lines.append) == 1
    assert "safe_because names 'drop_column posts.title', which this revision does not do" in lines[0]


def test_check_safety_refuses_the_steps_of_revision_0003_that_broke_the_serving_version(runner):
    result = runner.invoke(args=["db", "check-safety", "--after", "0002"])
    assert result.exit_code == 1
    assert "0003: drop_table login_throttles\n  why: the version still serving" in result.output
    assert "0003: set_not_null authors.session_token" in result.output
    assert "unsafe step(s)" in result.output


def test_the_repos_own_new_revisions_pass(runner):
    result = runner.invoke(args=["db", "check-safety"])
    assert result.exit_code == 0, result.output
    assert result.output.strip(), "says what it checked"


def test_an_unknown_base_revision_is_one_clear_line(runner):
    result = runner.invoke(args=["db", "check-safety", "--after", "nope"])
    assert result.exit_code == 1 and "no revision 'nope'" in result.output and "Traceback" not in result.output
