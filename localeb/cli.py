"""`python -m localeb`: a local Elastic Beanstalk on the local Docker engine.

    python -m localeb run     this checkout's bundle on local instances behind a load balancer, until Ctrl-C
    python -m localeb serve   the EB API (moto and its EB model) on a local endpoint; each environment created
                              there runs on local instances, so `eb create`, `eb deploy` and `python -m deploy
                              release` with AWS_ENDPOINT_URL set deploy for real
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from .errors import USAGE, LocalEBError

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = ["docker", "python"]


def port(text: str) -> int:
    value = int(text)
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"{text} is not a TCP port")
    return value


def at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m localeb", description=__doc__.split("\n\n")[0],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve this checkout's bundle on local EB instances until Ctrl-C")
    run.add_argument("--platform", choices=PLATFORMS, default="docker",
                     help="the instances' platform: Docker or Python 3.12 on AL2023 (default docker)")
    run.add_argument("--port", type=port, default=8080, help="local port of the load balancer (default 8080)")
    run.add_argument("--instances", type=at_least_one, default=1, help="instances behind the port, deployed "
                     "as the environment's deployment policy says")
    run.add_argument("--env-file", type=Path, help="environment properties (NAME=value lines); without it a "
                     "local PostgreSQL stands in for RDS and SECRET_KEY is generated")
    run.add_argument("--label", help="version label (default: git short SHA, -dirty if modified)")
    serve = commands.add_parser("serve", help="the EB API on a local endpoint, environments on local instances")
    serve.add_argument("--port", type=port, default=4566, help="the endpoint's port (default 4566)")
    serve.add_argument("--first-port", type=port, default=8080,
                       help="load balancer port of the first environment; the next ones count up (default 8080)")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out = partial(print, flush=True)
    try:
        if args.command == "run":
            from deploy.release import default_label

            from . import run

            label = args.label or default_label(ROOT)
            return run.run(ROOT, args.port, args.instances, args.env_file, label, out=out, platform=args.platform)
        from . import serve

        return serve.serve(args.port, args.first_port, out=out)
    except LocalEBError as error:
        print(f"localeb: {error}", file=sys.stderr)
        return USAGE
