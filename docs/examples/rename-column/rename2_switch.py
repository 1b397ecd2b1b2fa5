"""Release 2, backfill and switch reads: every row gets display_name, which becomes NOT NULL; the code uses it.

This release's model maps the attribute `name` to the column `display_name`
(`mapped_column("display_name", ...)`), so no other line of the app changes.
Its inserts leave `name` out and the trigger fills it, for the release-1
instances still serving while this one rolls.
"""
from alembic import op

revision = "rename2"
down_revision = "rename1"


def upgrade():
    # One statement suits a small table; a large one is backfilled in batches outside the migration.
    op.execute("UPDATE authors SET display_name = name WHERE display_name IS NULL")
    # NOT NULL without a scan under an exclusive lock: a validated CHECK first, then SET NOT NULL uses it.
    op.execute("ALTER TABLE authors ADD CONSTRAINT ck_authors_display_name CHECK (display_name IS NOT NULL) "
               "NOT VALID")
    op.execute("ALTER TABLE authors VALIDATE CONSTRAINT ck_authors_display_name")
    op.execute("ALTER TABLE authors ALTER COLUMN display_name SET NOT NULL")
    op.execute("ALTER TABLE authors DROP CONSTRAINT ck_authors_display_name")


def downgrade():
    op.execute("ALTER TABLE authors ALTER COLUMN display_name DROP NOT NULL")
