"""author name keys: the confusable skeleton of each name

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 14:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

from board import names

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# Built in the revision's transaction, so a failed upgrade leaves nothing behind: CONCURRENTLY cannot run in
# one, and a half-made revision (column added, index not) could not be run again.
safe_because = {
    'create_index authors.ix_authors_name_key': "authors holds one row per author, small enough that its index "
                                                "is built in moments; the posts table is never indexed this way",
}


def upgrade():
    with op.batch_alter_table('authors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_key', sa.Text(), nullable=True))
    authors = sa.table('authors', sa.column('id', sa.Integer), sa.column('name', sa.String),
                       sa.column('name_key', sa.Text))
    connection = op.get_bind()
    rows = connection.execute(sa.select(authors.c.id, authors.c.name)).all()
    if rows:
        connection.execute(authors.update().where(authors.c.id == sa.bindparam('author_id')),
                           [{'author_id': id_, 'name_key': names.key(name)} for id_, name in rows])
    # Authors who registered alike-looking names before keep them; from now on a new name is checked.
    # Nullable: the release before this one, still serving during a rolling deploy, inserts authors without
    # a key (those few are not found by the check until a later migration fills them and adds NOT NULL).
    op.create_index('ix_authors_name_key', 'authors', ['name_key'], unique=False)


def downgrade():
    op.drop_index('ix_authors_name_key', table_name='authors')
    with op.batch_alter_table('authors', schema=None) as batch_op:
        batch_op.drop_column('name_key')
