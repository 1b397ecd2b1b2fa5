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


class SelfTime:
    """Seconds spent in wrapped methods, each counted without the wrapped calls it makes (a retirement's
    draining is draining, not retirement)."""

    def __init__(self):
        self.spent: dict[str, float] = {}
        self.inner = [0.0]

    def wrap(self, owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            self.inner.append(0.0)
            started = time.monotonic()
            try:
                return original(*args, **kwargs)
            finally:
                took = time.monotonic() - started
                self.spent[label] = self.spent.get(label, 0.0) + took - self.inner.pop()
                self.inner[-1] += took

        setattr(owner, name, timed)


def where_the_time_goes(fleet, clock: SelfTime, began: float, rolled: tuple[float, float], served: float,
                        outcomes) -> list[tuple[str, float]]:
    """One release's seconds by where they went: the release tool and API before the fleet, each platform step
    (summed over the instances, from their engine logs), the rollout's launches, health waits, draining and
    retirements, and the wait for /version after the environment update."""
    import re

    from localeb.timings import step_seconds

    steps: dict[str, float] = {}
    for outcome in outcomes:
        for step, took in step_seconds(outcome.log):
            # The same step on every instance and deployment: names of instances and app containers dropped.
            step = re.sub(re.escape(fleet.name[:len(fleet.name) // 2]) + r"[\w-]*", "<instance>", step)
            steps[step] = steps.get(step, 0.0) + took
    rollout = {"instances launched": clock.spent.get("launch", 0.0),
               "load balancer: health checks until a batch takes requests": clock.spent.get("wait_healthy", 0.0),
               "load balancer: draining deregistered instances": clock.spent.get("deregister", 0.0),
               "additional instances retired": clock.spent.get("retire", 0.0)}
    rest = rolled[1] - rolled[0] - sum(steps.values()) - sum(rollout.values())
    parts = [("release tool and EB API until the fleet starts", rolled[0] - began), *steps.items(),
             *rollout.items(), ("rollout's own bookkeeping", rest),
             ("after the environment update, until /version shows the label", served - rolled[1])]
    return [(where, round(seconds, 2)) for where, seconds in parts]


def local_release_figures(rounds: int = 3) -> dict:
    """P7: seconds from `python -m deploy release` starting to the new version served through the load balancer
    of a local EB environment (localeb, one instance, attached to the local AWS, the repo's deployment policy),
    against its floor: per batch the rollout made, the same code-only change built (dependencies cached) and
    started as a bare container until /healthz answers. Interleaved rounds, the median ratio kept. Also where
    the time of the last release went (`where_the_time_goes`), printed and kept."""

    from bench.paired import ratio
    from localeb import Fleet
    from localeb.docker import docker

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_EC2_METADATA_DISABLED": "true", "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"})
    with tempfile.TemporaryDirectory() as work:
        def changed_tree(name: str) -> Path:
            tree = copy_tree(Path(work) / name)
            (tree / "board" / f"_bench_{name}.py").write_text(f"# {name}\n")
            return tree

        def floor(number: int) -> float:
            tag, name = f"board-bench-floor:{number}", f"board-bench-floor-{os.getpid()}-{number}"
            started = time.monotonic()
            docker("build", "--quiet", "--tag", tag, str(changed_tree(f"floor-{number}")))
            port = free_port()
            docker("run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:{CONTAINER_PORT}", "--env",
                   "SECRET_KEY=bench", "--env", "DATABASE_URL=sqlite:////app/instance/bench.sqlite", tag)
            try:
                while True:
                    try:
                        if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                            return time.monotonic() - started
                    except requests.RequestException:
                        time.sleep(0.1)
            finally:
                docker("rm", "--force", name, check=False)
                docker("rmi", "--force", tag, check=False)

        server, endpoint, env = local_aws()
        releases, floors, batch_counts = [], [], []
        try:
            with Fleet(instances=1, port=free_port(), echo=lambda line: None) as fleet:
                deploy, results, rolled = fleet.deploy, [], []

                def recorded(*args, **kwargs):
                    started = time.monotonic()
                    results.append(deploy(*args, **kwargs))
                    rolled.append((started, time.monotonic()))
                    return results[-1]

                fleet.deploy = recorded
                clock = SelfTime()
                clock.wrap(fleet, "launch", "launch")
                clock.wrap(fleet, "retire", "retire")
                clock.wrap(fleet.balancer, "wait_healthy", "wait_healthy")
                clock.wrap(fleet.balancer, "deregister", "deregister")
                eb_api.attach("board-local", fleet)
                provision(Clients(region="us-east-1", endpoint_url=endpoint), "board", "board-local",
                          DatabaseChoice(url=eb_api.stand_in_database_url(fleet)), out=lambda line: None)

                def release(tree: Path, label: str) -> tuple[float, float]:
                    begun = time.monotonic()
                    done = subprocess.run([sys.executable, "-m", "deploy", "--region", "us-east-1", "--poll", "0.2",
                                           "release", "--app", "board", "--env", "board-local", "--label", label,
                                           "--no-gate"], cwd=tree, env=env, capture_output=True, text=True)
                    if done.returncode != 0:
                        raise RuntimeError(f"release {label} failed: {(done.stdout + done.stderr)[-2000:]}")
                    while requests.get(fleet.url + "/version", timeout=5).json()["version"] != label:
                        time.sleep(0.1)
                    return begun, time.monotonic()

                release(ROOT, "bench-first")  # the launch: every instance at once, the database from scratch
                for number in range(1, rounds + 1):
                    floors.append(floor(number))
                    clock.spent.clear()
                    began, served = release(changed_tree(f"release-{number}"), f"bench-code-change-{number}")
                    releases.append(served - began)
                    batch_counts.append(sum(event.message.startswith("Batch ") and "Starting application "
                                            "deployment" in event.message for event in results[-1].events))
                steps = where_the_time_goes(fleet, clock, began, rolled[-1], served, results[-1].outcomes)
        finally:
            eb_api.detach("board-local")
            server.stop()
    per_batch = ratio(releases, [floor * batches for floor, batches in zip(floors, batch_counts, strict=True)])
    figures = {"local_release_s": round(statistics.median(releases), 2),
               "local_floor_s": round(statistics.median(floors), 2), "local_batches": batch_counts[-1],
               "local_vs_floor": per_batch, "local_steps": steps, "rounds": rounds}
    print(f"  local release {figures['local_release_s']} s in {figures['local_batches']} batches, floor "
          f"{figures['local_floor_s']} s a batch: {per_batch['median']:.1f}x ({per_batch['low']:.1f}x to "
          f"{per_batch['high']:.1f}x over {rounds} rounds); where the last release's time went:")
    for where, took in steps:
        print(f"    {took:6.2f} s  {where}")
    return figures


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
