"""python -m deploy: release board to Elastic Beanstalk without the EB CLI.

Exit codes: 0 done (status: Ready and healthy); 1 the release failed and was
rolled back (or aborted back), a bundle EB could not process, or (status,
watch) the environment is not healthy; 2 bad arguments or a refusal that
changed nothing (credentials, unknown region, application, environment or
label, label taken by other content, busy environment, update refused or
throttled past the retries, a promotion of a label the source never ran
healthy or of an older commit); 3 the release failed and the environment is not
back on a healthy version: look now; 130 interrupted (the update goes on).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from . import ci, environment, follow, history, promote, provision, prune, release, versions
from .aws import Clients
from .errors import DEPLOY_FAILED, USAGE, DeployError

ROOT = Path(__file__).resolve().parents[1]


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def not_negative(text: str) -> float:
    return 0.0 if text.strip() in ("0", "0.0") else positive(text)


def global_options(suppress: bool) -> argparse.ArgumentParser:
    """The options every command takes, before or after its name (after it, they win)."""
    options = argparse.ArgumentParser(add_help=False)
    default = (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)
    options.add_argument("--region", default=default(None),
                         help="AWS region (else AWS_REGION, AWS_DEFAULT_REGION, the profile's)")
    options.add_argument("--profile", default=default(None), help="AWS named profile (else AWS_PROFILE)")
    options.add_argument("--endpoint-url", default=default(None), help="a local AWS endpoint (also AWS_ENDPOINT_URL)")
    options.add_argument("--poll", type=positive, default=default(5.0),
                         help="seconds between status checks (default 5)")
    return options


def following(sub: argparse.ArgumentParser, soak=False) -> None:
    sub.add_argument("--timeout", type=positive, default=1200,
                     help="seconds to wait for the version and for health (default 1200)")
    sub.add_argument("--accept-warning", action="store_true", help="count health Warning as healthy")
    sub.add_argument("--wait-ready", action="store_true",
                     help="wait behind a busy or launching environment (its events shown) instead of refusing")
    sub.add_argument("--abort", action="store_true",
                     help="on timeout or Ctrl-C, abort the update (AbortEnvironmentUpdate) and follow it back")
    if soak:
        sub.add_argument("--soak", type=not_negative, default=0, metavar="SECONDS",
                         help="the new version must then stay healthy this long, else it is rolled back")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m deploy", description=__doc__.split("\n\n")[0],
                                  epilog=__doc__.split("\n\n")[1], formatter_class=argparse.RawTextHelpFormatter,
                                  parents=[global_options(suppress=False)])
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    late = global_options(suppress=True)

    def command(name: str, help_text: str, app=True, env=True):
        sub = commands.add_parser(name, help=help_text, description=help_text, parents=[late])
        if app:
            sub.add_argument("--app", required=True, help="Elastic Beanstalk application name")
        if env:
            sub.add_argument("--env", required=True, help="Elastic Beanstalk environment name")
        return sub

    bundle = command("bundle", "build the source bundle from .ebignore and print its path, size and sha256",
                     app=False, env=False)
    bundle.add_argument("--output", type=Path, default=ROOT / "dist" / "bundle.zip", help="zip to write")
    rel = command("release", "upload, deploy and follow a version; roll back if it fails")
    rel.add_argument("--label", help="version label (default: git short SHA, -dirty if changed or untracked files)")
    following(rel, soak=True)
    rel.add_argument("--no-rollback", action="store_true", help="leave a failed version in place")
    rel.add_argument("--outputs", type=Path, metavar="FILE",
                     help="append label=, status=, health=, url= lines (e.g. $GITHUB_OUTPUT)")
    prom = command("promote", "deploy a version that ran healthy in one environment to another (staging → "
                              "production); refuses an older commit than the target runs", env=False)
    prom.add_argument("--from", dest="source", required=True, metavar="ENV", help="where the version ran healthy")
    prom.add_argument("--to", dest="env", required=True, metavar="ENV", help="the environment to deploy it to")
    prom.add_argument("--label", required=True, help="the version label (e.g. the git short SHA)")
    prom.add_argument("--allow-older", action="store_true",
                      help="deploy even a commit older than (or unrelated to) the one the target runs")
    following(prom, soak=True)
    prom.add_argument("--no-rollback", action="store_true", help="leave a failed version in place")
    prom.add_argument("--outputs", type=Path, metavar="FILE", help="as for release")
    command("status", "show the environment's version, status, health and URL (exit 1 unless Ready and healthy)")
    watch = command("watch", "re-attach to an update in flight: its events, then its verdict")
    following(watch)
    back = command("rollback", "deploy the version that last ran healthy here (or --to)")
    back.add_argument("--to", help="label to roll back to")
    following(back)
    old = command("prune", "delete old versions; bundles only when no remaining version uses them (dry run "
                           "unless --yes)", env=False)
    old.add_argument("--keep", type=int, default=50, help="newest versions to keep (default 50)")
    old.add_argument("--yes", action="store_true", help="really delete")
    prov = command("provision", "create what a first release needs (application, roles, SECRET_KEY, PostgreSQL, "
                                "an AL2023 environment behind an ALB) and wait until it is Ready")
    where = prov.add_mutually_exclusive_group()
    where.add_argument("--database", choices=["create"], default="create",
                       help="create an RDS PostgreSQL instance for this environment (the default)")
    where.add_argument("--database-url", metavar="URL", help="use this database (kept in Secrets Manager)")
    where.add_argument("--rds-instance", metavar="ID", help="adopt this RDS instance (its master password in "
                                                            "Secrets Manager as APP/ENV/db-password)")
    prov.add_argument("--timeout", type=positive, default=1800, help="seconds to wait until Ready (default 1800)")
    prov.add_argument("--platform", choices=["docker", "python"], default="docker",
                      help="the environment's platform: Docker or Python 3.12 on AL2023 (default docker)")
    return top


def policy(args: argparse.Namespace) -> follow.Policy:
    return follow.Policy(timeout=args.timeout, poll=args.poll, accept_warning=args.accept_warning,
                          soak=getattr(args, "soak", 0), rollback=not getattr(args, "no_rollback", False),
                          abort=args.abort, wait_ready=args.wait_ready)


def write_outputs(path: Path, clients, app: str, env: str) -> None:
    """The environment as the release left it, for CI (GitHub's KEY=value output format)."""
    try:
        state = environment.describe(clients.eb, app, env)
    except (DeployError, ClientError, BotoCoreError):
        return
    with open(path, "a") as outputs:
        outputs.write(f"label={state.version or ''}\nstatus={state.status}\n"
                      f"health={state.health}/{state.health_status or '-'}\n"
                      f"url={'http://' + state.cname + '/' if state.cname else ''}\n")


def status(clients, app: str, env: str) -> int:
    state = environment.describe(clients.eb, app, env)
    print(state.line())
    for cause in environment.causes(clients.eb, env):
        print(f"  cause: {cause}")
    print(f"  url: http://{state.cname}/" if state.cname else "  url: (none yet)")
    history.note(clients.eb, app, state)
    return 0 if state.status == "Ready" and state.healthy else DEPLOY_FAILED


def run(args: argparse.Namespace) -> int:
    if args.command == "bundle":
        made = release.build_bundle(ROOT, args.output)
        print(f"{made.path}\n{made.size} bytes\nsha256 {made.sha256}")
        return 0
    clients = Clients(args.region, args.profile, args.endpoint_url)
    clients.check_region()
    if args.command == "release":
        with tempfile.TemporaryDirectory() as workdir:
            try:
                release.release(clients, ROOT, args.app, args.env, args.label, policy(args), Path(workdir))
            finally:
                if args.outputs:
                    write_outputs(args.outputs, clients, args.app, args.env)
    elif args.command == "promote":
        try:
            promote.promote(clients, ROOT, args.app, args.source, args.env, args.label, policy(args),
                            args.allow_older)
        finally:
            if args.outputs:
                write_outputs(args.outputs, clients, args.app, args.env)
    elif args.command == "status":
        return status(clients, args.app, args.env)
    elif args.command == "watch":
        follow.watch(clients, args.app, args.env, policy(args))
    elif args.command == "rollback":
        release.roll_back(clients, args.app, args.env, args.to, policy(args))
    elif args.command == "prune":
        if args.keep < 1:
            raise DeployError("--keep must be at least 1")
        versions.require_application(clients.eb, args.app)
        prune.prune(clients, args.app, args.keep, args.yes)
    elif args.command == "provision":
        choice = provision.DatabaseChoice(url=args.database_url, rds_instance=args.rds_instance)
        provision.provision(clients, args.app, args.env, choice, args.timeout, args.poll, wait_ready=True,
                            platform=args.platform)
    return 0


def fail(message: str) -> None:
    print(ci.error_line(message), file=sys.stdout if ci.github() else sys.stderr)


def main(argv: list[str] | None = None) -> int:
    # Piped (CI logs, tee), Python buffers whole blocks: a log would stay silent until exit.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True)
    args = parser().parse_args(argv)
    try:
        return run(args)
    except DeployError as error:
        fail(str(error))
        return error.exit_code
    except NoCredentialsError:
        fail("no AWS credentials found (set AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use --profile)")
    except NoRegionError:
        fail("no AWS region set (use --region, AWS_REGION or AWS_DEFAULT_REGION)")
    except ClientError as error:
        detail = error.response.get("Error", {})
        fail(f"AWS refused {error.operation_name}: {detail.get('Code')}: {detail.get('Message')}")
    except BotoCoreError as error:
        fail(str(error))
    except KeyboardInterrupt:
        fail("interrupted; the environment may still be updating (`watch` follows it)")
        return 130
    return USAGE
