"""Release 1, expand and dual-write: authors.display_name beside authors.name, kept equal by the database.

The code of this release is unchanged: it still reads and writes `name`. The
trigger writes whichever of the two columns a statement left out, so the code
of release 2, which knows only `display_name`, and this release's code can
serve side by side.
"""
import sqlalchemy as sa
from alembic import op

revision = "rename1"
down_revision = "0003"  # the head this example starts from (its test puts it on the repository's head)

SYNC = """
CREATE FUNCTION authors_sync_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.display_name := coalesce(NEW.display_name, NEW.name);
        NEW.name := coalesce(NEW.name, NEW.display_name);
    ELSIF NEW.display_name IS DISTINCT FROM OLD.display_name THEN
        NEW.name := NEW.display_name;
    ELSIF NEW.name IS DISTINCT FROM OLD.name THEN
        NEW.display_name := NEW.name;
    END IF;
    RETURN NEW;
END $$
"""


def upgrade():
    op.add_column("authors", sa.Column("display_name", sa.String(80), nullable=True))
    op.execute(SYNC)
    op.execute("CREATE TRIGGER authors_sync_name BEFORE INSERT OR UPDATE ON authors "
               "FOR EACH ROW EXECUTE FUNCTION authors_sync_name()")


def downgrade():
    op.execute("DROP TRIGGER authors_sync_name ON authors")
    op.execute("DROP FUNCTION authors_sync_name()")
    op.drop_column("authors", "display_name")
