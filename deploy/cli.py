"""python -m deploy: release board to Elastic Beanstalk without the EB CLI."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
from botocore.parsers import ResponseParserError

from . import ci, environment, follow, gate, history, promote, provision, prune, release, terminal, versions
from .aws import Clients
from .errors import DEPLOY_FAILED, INTERRUPTED, OK, TERMINATED, USAGE, DeployError, exit_codes_text

ROOT = Path(__file__).resolve().parents[1]
NOT_AWS = "a proxy or firewall in the way, or a wrong --endpoint-url / AWS_ENDPOINT_URL?"


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
    sub.add_argument("--abort-timeout", type=positive, default=follow.ABORT_TIMEOUT, metavar="SECONDS",
                     help=f"how long the abort may take (default {follow.ABORT_TIMEOUT:.0f})")
    sub.add_argument("--health-grace", type=not_negative, default=follow.HEALTH_GRACE, metavar="SECONDS",
                     help=f"Degraded/Severe right after a successful update counts only after this (default "
                          f"{follow.HEALTH_GRACE:.0f}; see docs/deploy-tool.md)")
    if soak:
        sub.add_argument("--soak", type=not_negative, default=0, metavar="SECONDS",
                         help="the new version must then stay healthy this long, else it is rolled back")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m deploy", description=__doc__.strip(),
                                  epilog=exit_codes_text(), formatter_class=argparse.RawTextHelpFormatter,
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
    rel.add_argument("--image", action="store_true",
                     help="release by image: build here, push to ECR, and let EB pull it by digest (docs/images.md)")
    rel.add_argument("--repository", metavar="NAME", help="the ECR repository for --image (default: --app)")
    gate.add_flag(rel)
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
    gate.add_flag(prom)
    stat = command("status", "show the environment's version, status, health and URL (exit 1 unless Ready and "
                             "healthy)")
    stat.add_argument("--json", action="store_true", help="one JSON object on stdout")
    past = command("history", "what ran in the environment when, and how it went (newest first)")
    past.add_argument("--json", action="store_true", help="a JSON array on stdout")
    past.add_argument("--limit", type=int, default=20, help="newest entries to show (default 20)")
    watch = command("watch", "re-attach to an update in flight: its events, then its verdict")
    following(watch)
    back = command("rollback", "deploy the version that last ran healthy here (or --to)")
    back.add_argument("--to", help="label to roll back to")
    gate.add_flag(back)
    following(back)
    old = command("prune", "delete old versions; bundles only when no remaining version uses them (dry run "
                           "unless --yes)", env=False)
    old.add_argument("--keep", type=int, default=50, help="newest versions to keep (default 50)")
    old.add_argument("--yes", action="store_true", help="really delete")
    prov = command("provision", "create what a first release needs (application, roles, SECRET_KEY, PostgreSQL, "
                                "an AL2023 environment behind an ALB) and wait until it is Ready")
    # Without either, provision creates an RDS PostgreSQL instance for the environment.
    where = prov.add_mutually_exclusive_group()
    where.add_argument("--database-url", metavar="URL", help="use this database (kept in Secrets Manager)")
    where.add_argument("--rds-instance", metavar="ID", help="adopt this RDS instance (its master password in "
                                                            "Secrets Manager as APP/ENV/db-password)")
    prov.add_argument("--timeout", type=positive, default=1800, help="seconds to wait until Ready (default 1800)")
    prov.add_argument("--platform", choices=["docker", "python"],
                      help="the environment's platform: Docker or Python 3.12 on AL2023 (default docker; an "
                           "existing environment keeps its own, and another is refused)")
    return top


def policy(args: argparse.Namespace) -> follow.Policy:
    return follow.Policy(timeout=args.timeout, poll=args.poll, accept_warning=args.accept_warning,
                          soak=getattr(args, "soak", 0), rollback=not getattr(args, "no_rollback", False),
                          abort=args.abort, wait_ready=args.wait_ready, health_grace=args.health_grace,
                          abort_timeout=args.abort_timeout)


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


def status(clients, app: str, env: str, as_json: bool = False) -> int:
    state = environment.describe(clients.eb, app, env)
    found = environment.causes(clients.eb, env)
    url = f"http://{state.cname}/" if state.cname else None
    if as_json:
        print(json.dumps({"environment": state.name, "status": state.status, "health": state.health,
                          "health_status": state.health_status, "version": state.version, "url": url,
                          "healthy": state.status == "Ready" and state.healthy, "causes": found}))
    else:
        print(state.line())
        for cause in found:
            print(f"  cause: {cause}")
        print(f"  url: {url or '(none yet)'}")
    history.note(clients, app, state)
    return OK if state.status == "Ready" and state.healthy else DEPLOY_FAILED


def show_history(clients, app: str, env: str, limit: int, as_json: bool = False) -> int:
    environment.describe(clients.eb, app, env)  # an unknown environment is refused, not shown as empty
    entries = list(reversed(history.Record(clients, app, env).entries()))[:max(limit, 0)]
    if as_json:
        print(json.dumps([{"at": e.at, "label": e.label, "outcome": e.outcome, "health": e.health}
                          for e in entries]))
    elif not entries:
        print(f"nothing recorded for {env} yet")
    for e in [] if as_json else entries:
        print(f"{e.at}  {e.outcome:8}  {e.health or '-':16}  {e.label}")
    return OK


def run(args: argparse.Namespace) -> int:
    if getattr(args, "repository", None) and not args.image:
        raise DeployError("--repository goes with --image")
    if args.command == "bundle":
        made = release.build_bundle(ROOT, args.output)
        print(f"{made.path}\n{made.size} bytes\nsha256 {made.sha256}")
        return OK
    clients = Clients(args.region, args.profile, args.endpoint_url)
    clients.check_region()
    if args.command == "release":
        with tempfile.TemporaryDirectory() as workdir:
            try:
                release.release(clients, ROOT, args.app, args.env, args.label, policy(args), Path(workdir),
                                repository=(args.repository or args.app) if args.image else None,
                                compatibility_gate=not args.no_gate)
            finally:
                if args.outputs:
                    write_outputs(args.outputs, clients, args.app, args.env)
    elif args.command == "promote":
        try:
            promote.promote(clients, ROOT, args.app, args.source, args.env, args.label, policy(args),
                            args.allow_older, compatibility_gate=not args.no_gate)
        finally:
            if args.outputs:
                write_outputs(args.outputs, clients, args.app, args.env)
    elif args.command == "status":
        return status(clients, args.app, args.env, args.json)
    elif args.command == "history":
        return show_history(clients, args.app, args.env, args.limit, args.json)
    elif args.command == "watch":
        follow.watch(clients, args.app, args.env, policy(args))
    elif args.command == "rollback":
        release.roll_back(clients, args.app, args.env, args.to, policy(args), gate_root=None if args.no_gate else ROOT)
    elif args.command == "prune":
        if args.keep < 1:
            raise DeployError("--keep must be at least 1")
        versions.require_application(clients.eb, args.app)
        prune.prune(clients, args.app, args.keep, args.yes)
    elif args.command == "provision":
        choice = provision.DatabaseChoice(url=args.database_url, rds_instance=args.rds_instance)
        provision.provision(clients, args.app, args.env, choice, args.timeout, args.poll, wait_ready=True,
                            platform=args.platform)
    return OK


def fail(message: str) -> None:
    print(ci.error_line(message), file=sys.stdout if ci.github() else sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    with terminal.prepared():
        return guarded(args)


def guarded(args: argparse.Namespace) -> int:
    """run(), every failure one line with its exit code (errors.EXIT_CODES)."""
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
        if detail.get("Code") and not str(detail.get("Code")).isdigit():
            fail(f"AWS refused {error.operation_name}: {detail.get('Code')}: {detail.get('Message')}")
        else:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            fail(f"{error.operation_name}: the endpoint answered HTTP {status} with no AWS error in the body "
                 f"({NOT_AWS})")
    except ResponseParserError as error:
        first = str(error).strip().splitlines()[0].split(". Further retries")[0][:200]
        fail(f"the endpoint's answer is not an AWS response ({NOT_AWS}): {first}")
    except BotoCoreError as error:
        fail(str(error))
    except KeyboardInterrupt:
        fail("interrupted; the environment may still be updating (`watch` follows it)")
        return INTERRUPTED
    except terminal.Terminated as terminated:
        what = terminated.what
        fail(f"terminated (SIGTERM) during {what}, which goes on at Elastic Beanstalk: `python -m deploy watch` "
             "follows it" if what else "terminated (SIGTERM); nothing was in flight at Elastic Beanstalk")
        return TERMINATED
    return USAGE
