"""Deploy figures: bundle size and build time; `python -m deploy release` against `eb deploy`,
both on the same local AWS (moto with the EB extension, no simulated delay)."""

from __future__ import annotations

import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import requests

from board.config import CONTAINER_PORT
from deploy.aws import Clients
from deploy.bundle import write_bundle
from deploy.environment import wait
from deploy.provision import DatabaseChoice, provision
from localeb import eb_api
from testkit.ebcli import eb_ready_checkout, git, run_eb
from testkit.ports import free_port
from testkit.tree import ROOT, copy_tree


def deploy_figures() -> dict:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the local AWS's request log

    figures = {}
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        bundle = write_bundle(ROOT, Path(work) / "bundle.zip")
        figures["bundle_build_ms"] = round((time.perf_counter() - started) * 1000, 1)
        figures["bundle_kb"] = round(bundle.stat().st_size / 1024, 1)

        os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_EC2_METADATA_DISABLED": "true", "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"})
        eb_api.set_delay(0)
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        endpoint = f"http://127.0.0.1:{port}"
        requests.post(f"{endpoint}/moto-api/reset", timeout=30).raise_for_status()  # with the managed policies
        try:
            clients = Clients(region="us-east-1", endpoint_url=endpoint)
            provision(clients, "board", "board-bench", out=lambda line: None)
            wait(clients.eb, "board", "board-bench", lambda s: s.status == "Ready", 30, 0.05)
            env = {**os.environ, "AWS_ENDPOINT_URL": endpoint}
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "deploy", "--region", "us-east-1", "--poll", "0.2", "release",
                            "--app", "board", "--env", "board-bench", "--label", "bench-1"], cwd=ROOT, env=env,
                           check=True, capture_output=True)
            figures["deploy_release_s"] = round(time.monotonic() - started, 2)

            tree = copy_tree(Path(work) / "board")
            eb_ready_checkout(tree, endpoint, "board-eb")
            (tree / "board" / "templates" / "about.html").write_text("changed")
            git(tree, "commit", "-qam", "second")
            started = time.monotonic()
            run_eb(tree, endpoint, "deploy", "--timeout", "2")
            figures["eb_deploy_s"] = round(time.monotonic() - started, 2)
        finally:
            server.stop()
    return figures


def local_aws() -> tuple:
    """moto with the EB model (no simulated delay) on a free port, emptied: (server, endpoint, environment for
    `python -m deploy`)."""
    from moto.server import ThreadedMotoServer

    eb_api.set_delay(0)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    requests.post(f"{endpoint}/moto-api/reset", timeout=30).raise_for_status()
    return server, endpoint, {**os.environ, "AWS_ENDPOINT_URL": endpoint}


def local_release_figures() -> dict:
    """Seconds from `python -m deploy release` starting to the new version served through nginx on a local EB
    instance (localeb, attached to the local AWS), against its floor: the same code-only change built
    (dependencies cached) and started as a bare container until /healthz answers. Also where the time went: the
    seconds of each platform step, from the instance's engine log, printed and kept."""

    from localeb import Fleet
    from localeb.docker import docker
    from localeb.timings import step_seconds

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_EC2_METADATA_DISABLED": "true", "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"})
    with tempfile.TemporaryDirectory() as work:
        def changed_tree(name: str) -> Path:
            tree = copy_tree(Path(work) / name)
            (tree / "board" / f"_bench_{name}.py").write_text(f"# {name}\n")
            return tree

        floor_tag, floor_name = "board-bench-floor:latest", "board-bench-floor"
        started = time.monotonic()
        docker("build", "--quiet", "--tag", floor_tag, str(changed_tree("floor")))
        port = free_port()
        docker("run", "--detach", "--name", floor_name, "--publish", f"127.0.0.1:{port}:{CONTAINER_PORT}", "--env",
               "SECRET_KEY=bench", "--env", "DATABASE_URL=sqlite:////app/instance/bench.sqlite", floor_tag)
        try:
            while True:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.1)
            floor = round(time.monotonic() - started, 2)
        finally:
            docker("rm", "--force", floor_name, check=False)
            docker("rmi", "--force", floor_tag, check=False)

        server, endpoint, env = local_aws()

        def release(tree: Path, label: str) -> float:
            begun = time.monotonic()
            subprocess.run([sys.executable, "-m", "deploy", "--region", "us-east-1", "--poll", "0.2", "release",
                            "--app", "board", "--env", "board-local", "--label", label, "--no-gate"], cwd=tree, env=env,
                           check=True, capture_output=True)
            while requests.get(fleet.url + "/version", timeout=5).json()["version"] != label:
                time.sleep(0.1)
            return round(time.monotonic() - begun, 2)

        lines: list[str] = []
        try:
            with Fleet(instances=1, port=free_port(), echo=lines.append) as fleet:
                eb_api.attach("board-local", fleet)
                provision(Clients(region="us-east-1", endpoint_url=endpoint), "board", "board-local",
                          DatabaseChoice(url=eb_api.stand_in_database_url(fleet)), out=lambda line: None)
                release(ROOT, "bench-first")
                lines.clear()
                seconds = release(changed_tree("release"), "bench-code-change")
        finally:
            eb_api.detach("board-local")
            server.stop()
    steps = step_seconds(lines)
    print(f"  local release {seconds} s, floor {floor} s ({seconds / floor:.1f}x); the instance's steps:")
    for step, took in steps:
        print(f"    {took:6.2f} s  {step}")
    return {"local_release_s": seconds, "local_floor_s": floor, "local_steps": steps}



BUILD_STEP = "Executing instruction: Docker Specific Build Application"


def stamped(outcome) -> list[tuple[datetime, str]]:
    """An instance's eb-engine.log lines with their times (engine.timestamp())."""
    return [(datetime.strptime(line[:26], "%Y/%m/%d %H:%M:%S.%f"), line[27:]) for line in outcome.log]


def instance_seconds(outcome) -> float:
    """One instance's deployment, first step to last."""
    times = [when for when, _ in stamped(outcome)]
    return (max(times) - min(times)).total_seconds()


def build_step_seconds(outcome) -> float:
    """The step that differs by bundle kind: the build of the Dockerfile, or the pull of the Dockerrun's image."""
    lines = stamped(outcome)
    start = next(number for number, (_, text) in enumerate(lines) if BUILD_STEP in text)
    end = next(number for number in range(start + 1, len(lines)) if "Executing instruction:" in lines[number][1])
    return (lines[end][0] - lines[start][0]).total_seconds()


def image_release_figures(rounds: int = 3) -> dict:
    """Per-instance deploy time of a code change on a 2-instance local fleet: released by image (the instances
    pull it) against the source bundle (the instances build it), in interleaved rounds. The same engine serves
    the instances and the release, so a pull finds the layers already there: this measures the platform's
    steps, not the download of the changed layer."""

    from bench.paired import ratio
    from localeb import Fleet, ecr_api
    from localeb import registry as registries

    if registries.binary() is None:
        return {"skipped": registries.MISSING}
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_EC2_METADATA_DISABLED": "true", "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"})
    registry = registries.start()
    ecr_api.use_registry(registry.host)
    server, endpoint, env = local_aws()
    per_kind: dict[str, list[float]] = {"image": [], "source": []}
    steps: dict[str, list[float]] = {"image": [], "source": []}  # the build or pull step alone
    try:
        with tempfile.TemporaryDirectory() as work, \
                Fleet(instances=2, port=free_port(), echo=lambda line: None) as fleet:
            results = []
            deploy = fleet.deploy

            def recorded(*args, **kwargs):
                results.append(deploy(*args, **kwargs))
                return results[-1]

            fleet.deploy = recorded
            eb_api.attach("board-bench-image", fleet)
            provision(Clients(region="us-east-1", endpoint_url=endpoint), "board", "board-bench-image",
                      DatabaseChoice(url=eb_api.stand_in_database_url(fleet)), out=lambda line: None)

            def release(kind: str, number: int) -> float:
                tree = copy_tree(Path(work) / f"{kind}-{number}")
                (tree / "board" / "_bench_change.py").write_text(f"# {kind} {number}\n")
                subprocess.run([sys.executable, "-m", "deploy", "--region", "us-east-1", "--poll", "0.2", "release",
                                "--app", "board", "--env", "board-bench-image", "--label", f"bench-{kind}-{number}",
                                *(["--image"] if kind == "image" else [])], cwd=tree, env=env, check=True,
                               capture_output=True)
                outcomes = results[-1].outcomes
                steps[kind].append(statistics.median(build_step_seconds(outcome) for outcome in outcomes))
                return statistics.median(instance_seconds(outcome) for outcome in outcomes)

            release("source", 0)  # the first deployment starts the app and migrates from scratch
            steps["source"].clear()
            for number in range(1, rounds + 1):
                for kind in ("source", "image"):
                    per_kind[kind].append(release(kind, number))
    finally:
        eb_api.detach("board-bench-image")
        server.stop()
        ecr_api.use_registry(None)
        registry.stop()
    return {"image_instance_s": round(statistics.median(per_kind["image"]), 2),
            "source_instance_s": round(statistics.median(per_kind["source"]), 2),
            "image_vs_source": ratio(per_kind["image"], per_kind["source"]),
            "pull_step_s": round(statistics.median(steps["image"]), 2),
            "build_step_s": round(statistics.median(steps["source"]), 2),
            "pull_vs_build": ratio(steps["image"], steps["source"]), "rounds": rounds}


if __name__ == "__main__":
    import json

    print(json.dumps(image_release_figures(), indent=2))
