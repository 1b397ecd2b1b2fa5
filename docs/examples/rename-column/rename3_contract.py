"""Release 3, contract: the old column and its trigger go; the code is release 2's."""
import sqlalchemy as sa
from alembic import op

revision = "rename3"
down_revision = "rename2"

safe_because = {
    "drop_column authors.name": "release 2 neither reads nor writes it (its model maps name to display_name), "
                                "and release 2 is what serves while this one rolls",
}


def upgrade():
    op.execute("DROP TRIGGER authors_sync_name ON authors")
    op.execute("DROP FUNCTION authors_sync_name()")
    op.drop_column("authors", "name")


def downgrade():
    op.add_column("authors", sa.Column("name", sa.String(80), nullable=True))
    op.execute("UPDATE authors SET name = display_name")
