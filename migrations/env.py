"""Alembic environment for Flask-Migrate, with a lock for concurrent deploys.

On PostgreSQL the whole upgrade runs under a session advisory lock: when
several instances run `flask db upgrade` at once, one applies the revisions
and the others wait, then find the schema at head and do nothing.

Once it holds that lock, each statement waits at most LOCK_TIMEOUT for the
table locks it needs. An ALTER waiting behind a long query makes every later
query on that table queue behind the ALTER, so the app stalls for as long as it
waits: the bound keeps that stall shorter than the load balancer's health check
timeout (4 s, .ebextensions) and far below gunicorn's worker timeout, and a migration that
cannot get its lock fails (the deploy rolls back; run it again when the table
is quieter) instead of taking the site down while it waits.
"""

import logging
import time
from logging.config import fileConfig

from alembic import context
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import text

config = context.config
# Keep the app's loggers alive when migrations run inside a running process (tests, `flask seed`).
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

# Any fixed 64-bit number, the same for every process of this app.
MIGRATION_LOCK_ID = 0x626F617264  # "board"
LOCK_POLL = 0.2  # seconds between tries for it
LOCK_TIMEOUT = "3s"

target_db = current_app.extensions["migrate"].db
config.set_main_option(
    "sqlalchemy.url", target_db.engine.url.render_as_string(hide_password=False).replace("%", "%%")
)


def skip_empty_autogenerate(context, revision, directives):
    # `flask db migrate` with no model change writes no empty revision.
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info("No changes in schema detected.")


def unknown_revisions(heads) -> list[str]:
    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    return [head for head in heads if head not in known]


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_db.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def take_migration_lock(connection) -> None:
    """Wait for the advisory lock in short transactions, not one long one: a waiter's open transaction would
    stall (and with a concurrent upgrade deadlock) a CREATE INDEX CONCURRENTLY of the instance holding the
    lock, which waits for every transaction older than itself."""
    while not connection.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID}).scalar():
        connection.commit()
        time.sleep(LOCK_POLL)


def run_migrations_online():
    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", skip_empty_autogenerate)
    with target_db.engine.connect() as connection:
        locking = connection.dialect.name == "postgresql"
        if locking:
            logger.info("Waiting for the migration lock.")
            take_migration_lock(connection)
            # After the advisory lock: it is a lock too, and waiting for another instance's upgrade is fine.
            connection.execute(text(f"SET lock_timeout = '{LOCK_TIMEOUT}'"))
            connection.commit()
        try:
            context.configure(connection=connection, target_metadata=target_db.metadata, **conf_args)
            if ahead := unknown_revisions(context.get_context().get_current_heads()):
                # A rollback deploys older code onto a schema a newer release migrated: there is nothing
                # for this version to apply, and failing here would fail the rollback.
                logger.warning("The database is at %s, which this version's migrations do not have (a newer "
                               "release migrated it): nothing to do.", ", ".join(ahead))
                return
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if locking:
                connection.rollback()
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
                connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
