"""python -m deploy: release board to Elastic Beanstalk without the EB CLI.

Exit codes: 0 done; 1 the release failed (rolled back when possible);
2 bad arguments or an expected AWS refusal (credentials, unknown
application/environment, version conflict, busy environment); 3 the release
failed and the environment is not back on a healthy version.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from functools import partial
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from . import environment, provision, prune, release
from .aws import Clients
from .errors import USAGE, DeployError

ROOT = Path(__file__).resolve().parents[1]


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m deploy", description=__doc__.split("\n\n")[0],
                                  epilog=__doc__.split("\n\n")[1], formatter_class=argparse.RawTextHelpFormatter)
    top.add_argument("--region", help="AWS region (else AWS_REGION / the profile's)")
    top.add_argument("--profile", help="AWS named profile")
    top.add_argument("--endpoint-url", help="a local AWS endpoint (also AWS_ENDPOINT_URL)")
    top.add_argument("--poll", type=positive, default=5.0, help="seconds between status checks (default 5)")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, app=True, env=True):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if app:
            sub.add_argument("--app", required=True, help="Elastic Beanstalk application name")
        if env:
            sub.add_argument("--env", required=True, help="Elastic Beanstalk environment name")
        return sub

    bundle = command("bundle", "build the source bundle from .ebignore and print its path, size and sha256",
                     app=False, env=False)
    bundle.add_argument("--output", type=Path, default=ROOT / "dist" / "bundle.zip", help="zip to write")
    rel = command("release", "upload, deploy and follow a version; roll back if it fails")
    rel.add_argument("--label", help="version label (default: git short SHA, -dirty if modified)")
    rel.add_argument("--timeout", type=positive, default=1200, help="seconds to wait for health (default 1200)")
    rel.add_argument("--no-rollback", action="store_true", help="leave a failed version in place")
    rel.add_argument("--outputs", type=Path, metavar="FILE",
                     help="append label=, status=, health=, url= lines (e.g. $GITHUB_OUTPUT)")
    command("status", "show the environment's version, status, health and URL")
    back = command("rollback", "deploy the version that last ran healthy here (or --to)")
    back.add_argument("--to", help="label to roll back to")
    back.add_argument("--timeout", type=positive, default=1200, help="seconds to wait for health (default 1200)")
    old = command("prune", "delete old versions and bundles (dry run unless --yes)", env=False)
    old.add_argument("--keep", type=int, default=50, help="newest versions to keep (default 50)")
    old.add_argument("--yes", action="store_true", help="really delete")
    prov = command("provision", "create the application, roles and an AL2023 environment if missing")
    prov.add_argument("--platform", choices=["docker", "python"], default="docker",
                      help="the environment's platform: Docker or Python 3.12 on AL2023 (default docker)")
    local = command("local", "run the bundle on local EB AL2023 instances behind nginx until Ctrl-C",
                    app=False, env=False)
    local.add_argument("--platform", choices=["docker", "python"], default="docker",
                       help="the instances' platform: Docker or Python 3.12 on AL2023 (default docker)")
    local.add_argument("--port", type=int, default=8080, help="local port to serve on (default 8080)")
    local.add_argument("--instances", type=int, default=1, help="instances behind the port, deployed rolling")
    local.add_argument("--env-file", type=Path, help="environment properties (NAME=value lines); without it a "
                       "local PostgreSQL stands in for RDS and SECRET_KEY is generated")
    local.add_argument("--label", help="version label (default: git short SHA, -dirty if modified)")
    return top


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


def run(args: argparse.Namespace) -> int:
    if args.command == "bundle":
        made = release.build_bundle(ROOT, args.output)
        print(f"{made.path}\n{made.size} bytes\nsha256 {made.sha256}")
        return 0
    if args.command == "local":
        from .local import command as local

        if args.instances < 1 or not 0 < args.port < 65536:
            raise DeployError("--instances must be at least 1 and --port a TCP port")
        label = args.label or release.default_label(ROOT)
        return local.run(ROOT, args.port, args.instances, args.env_file, label, out=partial(print, flush=True),
                         platform=args.platform)
    clients = Clients(args.region, args.profile, args.endpoint_url)
    if args.command == "release":
        with tempfile.TemporaryDirectory() as workdir:
            try:
                release.release(clients, ROOT, args.app, args.env, args.label, args.timeout, args.poll,
                                not args.no_rollback, Path(workdir))
            finally:
                if args.outputs:
                    write_outputs(args.outputs, clients, args.app, args.env)
    elif args.command == "status":
        state = environment.describe(clients.eb, args.app, args.env)
        print(state.line())
        health = clients.eb.describe_environment_health(EnvironmentName=args.env, AttributeNames=["All"])
        for cause in health.get("Causes", []):
            print(f"  cause: {cause}")
        print(f"  url: http://{state.cname}/" if state.cname else "  url: (none yet)")
    elif args.command == "rollback":
        release.roll_back(clients, args.app, args.env, args.to, args.timeout, args.poll)
    elif args.command == "prune":
        if args.keep < 1:
            raise DeployError("--keep must be at least 1")
        prune.prune(clients.eb, args.app, args.keep, args.yes)
    elif args.command == "provision":
        provision.provision(clients, args.app, args.env, platform=args.platform)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except DeployError as error:
        print(f"deploy: {error}", file=sys.stderr)
        return error.exit_code
    except NoCredentialsError:
        print("deploy: no AWS credentials found (set AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
              "or use --profile)", file=sys.stderr)
    except NoRegionError:
        print("deploy: no AWS region set (use --region or AWS_REGION)", file=sys.stderr)
    except ClientError as error:
        detail = error.response.get("Error", {})
        print(f"deploy: AWS refused {error.operation_name}: {detail.get('Code')}: {detail.get('Message')}",
              file=sys.stderr)
    except BotoCoreError as error:
        print(f"deploy: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        print("deploy: interrupted; the environment may still be updating (check `status`)", file=sys.stderr)
        return 130
    return USAGE
