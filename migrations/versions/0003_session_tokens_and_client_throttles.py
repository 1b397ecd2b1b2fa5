"""session tokens on authors; login throttles per address and client

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 14:10:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# 64 random hex digits a row, from each backend's own strong generator.
RANDOM_TOKEN = {
    'postgresql': "replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')",
    'sqlite': 'lower(hex(randomblob(32)))',
}


def upgrade():
    with op.batch_alter_table('authors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_token', sa.String(length=64), nullable=True))
    op.execute(f"UPDATE authors SET session_token = {RANDOM_TOKEN[op.get_bind().dialect.name]}")
    with op.batch_alter_table('authors', schema=None) as batch_op:
        batch_op.alter_column('session_token', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_authors_session_token'), ['session_token'])

    # The counts are minutes old at most: a new table loses nothing worth keeping.
    op.drop_table('login_throttles')
    create_throttles([sa.Column('client', sa.String(length=64), nullable=False),
                      sa.Column('attempts', sa.Integer(), nullable=False)], ['email', 'client'])


def downgrade():
    op.drop_table('login_throttles')
    create_throttles([sa.Column('failures', sa.Integer(), nullable=False)], ['email'])
    with op.batch_alter_table('authors', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_authors_session_token'), type_='unique')
        batch_op.drop_column('session_token')


def create_throttles(columns, key):
    op.create_table('login_throttles',
    sa.Column('email', sa.String(length=254), nullable=False),
    *columns,
    sa.Column('since', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint(*key, name=op.f('pk_login_throttles'))
    )
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_throttles_since'), ['since'], unique=False)
