"""`flask db check-safety`: refuse revisions that are unsafe while the previous release serves."""

from __future__ import annotations

import click
from alembic.script import ScriptDirectory
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate.cli import db as db_group

from .check import check

# Revisions up to this one shipped before the check existed; they are history, not new work.
CHECKED_AFTER = "0003"


def report(revisions, echo=click.echo) -> int:
    """Each revision's verdict; the number of problems (refused steps and markers that excuse nothing)."""
    problems = 0
    for revision in revisions:
        refused, stale = revision.refused(), revision.stale_markers()
        problems += len(refused) + len(stale)
        for finding in revision.findings:
            if finding not in refused:
                echo(f"{revision.script.revision}: {finding.key}: accepted: {revision.markers[finding.key]}")
        for finding in refused:
            echo(finding.text())
        for key in stale:
            echo(f"{revision.script.revision}: safe_because names {key!r}, which this revision does not do "
                 f"(a marker names the exact step it excuses)")
        if not revision.findings and not stale:
            echo(f"{revision.script.revision}: safe")
    return problems


@click.command("check-safety")
@click.option("--after", default=CHECKED_AFTER, show_default=True, metavar="REVISION",
              help="check the revisions after this one (e.g. the head the serving version runs)")
@with_appcontext
def check_safety(after: str) -> None:
    """Refuse migrations that break the version still serving, or block PostgreSQL, during a rolling deploy."""
    directory = ScriptDirectory(current_app.extensions["migrate"].directory)
    try:
        revisions = check(directory, after)
    except LookupError as error:
        raise click.ClickException(str(error)) from None
    if not revisions:
        click.echo(f"no revisions after {after}: nothing to check")
    problems = report(revisions)
    if problems:
        raise click.ClickException(f"{problems} unsafe step(s): follow the safe sequence, or mark a deliberate "
                                   "contract step in the revision's safe_because")


def register() -> None:
    db_group.add_command(check_safety)
