"""login sessions: one row a login

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 14:00:00.000000

Each login becomes a row of its own (browser, issue time, expiry), which the session and remember
cookies name by a token. Only a new table: the previous release, still serving while a deployment
rolls, never reads it. Its cookies named the author's `authors.session_token`, which this release
leaves in place and unused (still filled in for new authors, as the previous release requires);
a later release drops it, once no instance of the previous one can be running. Logins made before
this revision are not carried over: everyone logs in again once.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('login_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('device', sa.String(length=200), nullable=False),
    sa.Column('remembered', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['authors.id'], name=op.f('fk_login_sessions_author_id_authors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_login_sessions_token_hash'))
    )
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_sessions_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_sessions_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_sessions_expires_at'))
        batch_op.drop_index(batch_op.f('ix_login_sessions_author_id'))

    op.drop_table('login_sessions')
