"""Deploys under load on a local fleet: the versions the zero-downtime test and `make bench` roll out, and
one call that runs a deploy while visitors read and write through the load balancer.

    run = deploy_under_load(fleet, bundle, "v2", options=ROLLING)
    run.result.ok, run.report.failures, run.lost, run.served   # served: requests per instance during the deploy
    assert run.report.failures == [], run.balancer_log          # which target failed them, and why
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from deploy.namespaces import DEPLOYMENT_POLICY
from localeb import Fleet, Result

from .traffic import Report, Traffic, post_titles
from .tree import migration_head

# Option settings as the API would give them, winning over the repo's .ebextensions.
ROLLING = {DEPLOYMENT_POLICY: {"DeploymentPolicy": "Rolling", "BatchSizeType": "Fixed", "BatchSize": "1"}}
ADDITIONAL_BATCH = {DEPLOYMENT_POLICY: {"DeploymentPolicy": "RollingWithAdditionalBatch", "BatchSizeType": "Fixed",
                                        "BatchSize": "1"}}


def code_change(tree: Path) -> None:
    """A template edit: the new version looks different, nothing else changes."""
    about = tree / "board/templates/about.html"
    about.write_text(about.read_text().replace("</", "<!-- new version --></", 1))


def column_migration(revision: str = "9001_add_post_mood") -> str:
    """A revision on top of the head that adds a nullable column (expand: the old version ignores it)."""
    return f'''revision = "{revision}"
down_revision = "{migration_head()}"
import sqlalchemy as sa
from alembic import op


def upgrade():
    op.add_column("posts", sa.Column("mood", sa.String(20), nullable=True))


def downgrade():
    op.drop_column("posts", "mood")
'''


def adds_a_column(tree: Path) -> None:
    (tree / "migrations/versions/9001_add_post_mood.py").write_text(column_migration())


def predeploy_fails(tree: Path) -> None:
    """A predeploy hook that fails: the deployment stops before the new container starts."""
    hook = tree / ".platform/hooks/predeploy/00_fails.sh"
    hook.write_text("#!/bin/bash\necho 'this predeploy hook fails on purpose' >&2\nexit 1\n")
    hook.chmod(0o755)


def exits_at_boot(tree: Path) -> None:
    """Commands succeed, but gunicorn exits at boot (the app it is told to load does not exist): the health
    check never passes. The image's last CMD wins, and an app on the command line wins over gunicorn.conf.py's."""
    dockerfile = tree / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + '\nCMD ["gunicorn", "--config", "gunicorn.conf.py", '
                                                   '"board:no_such_app"]\n')


def on_top(*edits):
    """Several edits as one: a later version keeps what an earlier one added (a migration stays)."""
    def edit(tree: Path) -> None:
        for each in edits:
            each(tree)
    return edit


@dataclass
class Run:
    label: str
    result: Result
    report: Report
    lost: list[str]
    served: dict[str, int]  # requests each instance took during the deploy
    marks: list[tuple[float, str]] = field(default_factory=list)  # (seconds into the load, event message)
    seconds: float = 0.0  # the deploy's own duration
    balancer_log: str = ""  # the end of the load balancer's log when a request failed: which target, and why


def deploy_under_load(fleet: Fleet, bundle: Path, label: str, options: dict | None = None, clients: int = 4,
                      settle: float = 3.0) -> Run:
    """Deploy `bundle` while `clients` visitors use the site; `settle` seconds of load before and after."""
    before = fleet.balancer.served()
    traffic = Traffic(fleet.url, clients=clients).start()
    try:
        time.sleep(settle)
        started = traffic.now()
        result = fleet.deploy(bundle, label=label, options=options)
        seconds = traffic.now() - started
        time.sleep(settle)
    finally:
        report = traffic.stop()
    served = {target: count - before.get(target, 0) for target, count in fleet.balancer.served().items()}
    marks = [(event.date.timestamp() - report.started, event.message) for event in result.events]
    log = fleet.balancer.log() if report.failures else ""
    return Run(label, result, report, report.lost(post_titles(fleet.url)), served, marks, seconds, log)
