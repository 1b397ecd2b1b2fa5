"""Deploy figures: bundle size and build time; `python -m deploy release` against `eb deploy`, both on the
run's one local AWS (bench/local_aws.py); a release to a local EB instance against its floor; the per-instance
deploy time by image against by source bundle on local instances that start cold."""

from __future__ import annotations

import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench import local_aws
from board.config import CONTAINER_PORT
from deploy.aws import Clients
from deploy.bundle import write_bundle
from deploy.environment import wait
from deploy.namespaces import DEPLOYMENT_POLICY
from deploy.provision import DatabaseChoice, provision
from localeb import eb_api
from testkit.ebcli import eb_ready_checkout, git, run_eb
from testkit.ports import free_port
from testkit.tree import ROOT, copy_tree


def deploy_figures() -> dict:
    figures = {}
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        bundle = write_bundle(ROOT, Path(work) / "bundle.zip")
        figures["bundle_build_ms"] = round((time.perf_counter() - started) * 1000, 1)
        figures["bundle_kb"] = round(bundle.stat().st_size / 1024, 1)

        aws = local_aws.shared()
        clients = Clients(region="us-east-1", endpoint_url=aws.endpoint)
        provision(clients, "board", "board-bench", out=lambda line: None)
        wait(clients.eb, "board", "board-bench", lambda s: s.status == "Ready", 30, 0.05)
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "deploy", "--region", "us-east-1", "--poll", "0.2", "release",
                        "--app", "board", "--env", "board-bench", "--label", "bench-1"], cwd=ROOT, env=aws.env,
                       check=True, capture_output=True)
        figures["deploy_release_s"] = round(time.monotonic() - started, 2)

        tree = copy_tree(Path(work) / "board")
        eb_ready_checkout(tree, aws.endpoint, "board-eb")
        (tree / "board" / "templates" / "about.html").write_text("changed")
        git(tree, "commit", "-qam", "second")
        started = time.monotonic()
        run_eb(tree, aws.endpoint, "deploy", "--timeout", "2")
        figures["eb_deploy_s"] = round(time.monotonic() - started, 2)
    return figures


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


MIGRATE_HOOK = ".platform/hooks/predeploy/01_migrate.py"


def local_release_figures(rounds: int = 5) -> dict:
    """P7: seconds from `python -m deploy release` starting to the new version served through the load balancer
    of a local EB environment (localeb, one instance, attached to the local AWS, the repo's deployment policy),
    against its floor: per batch the rollout made, the same code-only change built (dependencies cached) and
    started as a bare container until /healthz answers. Interleaved rounds, the median ratio kept. Also where
    the time of the last release went (`where_the_time_goes`), printed and kept."""

    from bench.paired import ratio
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

        aws = local_aws.shared()
        endpoint, env = aws.endpoint, aws.env
        releases, floors, batch_counts, migrations = [], [], [], []
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
                    migrations.append(sum(took for outcome in results[-1].outcomes
                                          for step, took in step_seconds(outcome.log) if MIGRATE_HOOK in step))
                    batch_counts.append(sum(event.message.startswith("Batch ") and "Starting application "
                                            "deployment" in event.message for event in results[-1].events))
                steps = where_the_time_goes(fleet, clock, began, rolled[-1], served, results[-1].outcomes)
        finally:
            eb_api.detach("board-local")
    floor_totals = [floor * batches for floor, batches in zip(floors, batch_counts, strict=True)]
    per_batch = ratio(releases, floor_totals)
    # The predeploy migration is the repo's own step on every instance, which the floor does not hold: the ratio
    # without it shows how much of the rest is the platform's and the replica's.
    unmigrated = ratio([release - hook for release, hook in zip(releases, migrations, strict=True)], floor_totals)
    figures = {"local_release_s": round(statistics.median(releases), 2),
               "local_floor_s": round(statistics.median(floors), 2), "local_batches": batch_counts[-1],
               "local_vs_floor": per_batch, "local_migration_s": round(statistics.median(migrations), 2),
               "local_vs_floor_without_migration": unmigrated, "local_steps": steps, "rounds": rounds}
    print(f"  local release {figures['local_release_s']} s in {figures['local_batches']} batches, floor "
          f"{figures['local_floor_s']} s a batch: {per_batch['median']:.1f}x ({per_batch['low']:.1f}x to "
          f"{per_batch['high']:.1f}x over {rounds} rounds); of which the migration hook on every instance "
          f"{figures['local_migration_s']} s, without which {unmigrated['median']:.1f}x; where the last release's "
          "time went:")
    for where, took in steps:
        print(f"    {took:6.2f} s  {where}")
    return figures


BUILD_STEP = "Executing instruction: Docker Specific Build Application"
KINDS = ("source", "image")
# (case, deployment policy): a new instance (Immutable launches one per deployment), then a code change on it.
CASES = (("cold", "Immutable"), ("warm", "AllAtOnce"))


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


def build_records_since(since: datetime) -> list[str]:
    """The ids of the engine's build cache records made since `since`."""
    from localeb.docker import docker

    found = []
    for block in docker("buildx", "du", "--verbose").stdout.split("\n\n"):
        fields = dict(re.findall(r"^([\w ]+):\s+(.*)$", block, re.MULTILINE))
        if "ID" in fields and "Created at" in fields:
            # Go's time format: the fraction has up to nine digits, its trailing zeros dropped (or none at all).
            seconds, fraction = re.match(r"(\S+ \S+?)(?:\.(\d+))? ", fields["Created at"]).groups()
            made = datetime.strptime(f"{seconds}.{(fraction or '0')[:6]}", "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
            if made >= since:
                found.append(fields["ID"].rstrip("*"))
    return found


def pushed(tree: Path, repository: str, tag: str, cold: bool) -> str:
    """Build `tree` as CI does (cached; cold: --no-cache, so none of its layers above the base image is shared
    with an image already on the engine), push it, then remove it and the build cache records that hold its new
    layers, so an instance's pull downloads and unpacks them as a host that never had them does. Records other
    builds made meanwhile go too: that costs them a rebuild, nothing else. The image by digest."""
    from deploy.image import DIGEST
    from localeb.docker import docker

    began, name = datetime.now(UTC), f"{repository}:{tag}"
    docker("build", "--quiet", *(["--no-cache"] if cold else []), "--tag", name, str(tree),
           env={"DOCKER_BUILDKIT": "1"})
    digest = DIGEST.search(docker("push", name).stdout).group(1)
    docker("rmi", name)
    for _ in range(10):  # a record goes only once its children have: pass after pass
        records = build_records_since(began)
        if not records:
            break
        for record in records:
            docker("builder", "prune", "--force", "--filter", f"id={record}", check=False)
    return f"{repository}@{digest}"


def image_release_figures(rounds: int = 2) -> dict:
    """Per-instance deploy time of a code change, by image (the instance pulls it) against by source bundle (the
    instance builds it), on a local fleet whose instances start as new EC2 hosts do (Fleet(cold_instances=True)):
    `cold`, a new instance (Immutable launches one per deployment): a source bundle is a build from nothing, an
    image a pull of every layer above the base; `warm`, the next code change on that instance: a build from its
    cache, a pull of the changed layers. Both kinds find the base image on the engine, so neither figure holds
    its download. Kinds alternate in order round by round."""

    from deploy.image import write_image_bundle
    from localeb import Fleet
    from localeb import registry as registries
    from localeb.docker import docker
    from localeb.timings import step_seconds

    if registries.binary() is None:
        return {"skipped": registries.MISSING}
    registry = registries.start()
    seconds = {case: {kind: {"instance": [], "step": [], "steps": []} for kind in KINDS} for case, _ in CASES}
    try:
        with tempfile.TemporaryDirectory() as folder, Fleet(instances=1, port=free_port(), echo=lambda line: None,
                                                            health_wait=60, cold_instances=True) as fleet:
            work = Path(folder)
            first = fleet.deploy(write_bundle(ROOT, work / "v0.zip"), label="v0")  # the schema made from nothing
            if not first.ok:
                raise SystemExit(f"bench: the first version did not deploy: {first.events}")
            number = 0
            for round_number in range(rounds):
                for kind in KINDS if round_number % 2 == 0 else reversed(KINDS):
                    for case, policy in CASES:
                        number += 1
                        tree = copy_tree(work / f"v{number}")
                        (tree / "board" / "_bench_change.py").write_text(f"# {number}\n")
                        bundle = write_bundle(tree, work / f"v{number}.zip") if kind == "source" else \
                            write_image_bundle(tree, work / f"v{number}.zip",
                                               pushed(tree, f"{registry.host}/board", f"v{number}", case == "cold"))
                        before = {engine.instance.id for engine in fleet.engines}
                        result = fleet.deploy(bundle, label=f"v{number}",
                                              options={DEPLOYMENT_POLICY: {"DeploymentPolicy": policy}})
                        if not result.ok:
                            raise SystemExit(f"bench: v{number} ({case}, {kind}) did not deploy: "
                                             + "\n".join([event.message for event in result.events]
                                                         + [line for outcome in result.outcomes
                                                            for line in outcome.log[-8:]]))
                        [outcome] = [outcome for outcome in result.outcomes
                                     if (outcome.instance in before) == (case == "warm")]
                        built_cold = any("docker build --no-cache" in line for line in outcome.log)
                        if built_cold != (case == "cold" and kind == "source"):
                            raise SystemExit(f"bench: v{number} ({case}, {kind}) built with the wrong cache")
                        seconds[case][kind]["instance"].append(instance_seconds(outcome))
                        seconds[case][kind]["step"].append(build_step_seconds(outcome))
                        seconds[case][kind]["steps"] = step_seconds(outcome.log)  # the last round's, to read
    finally:
        registry.stop()
        pulled = docker("image", "ls", "--quiet", "--filter", f"reference={registry.host}/board",
                        check=False).stdout.split()
        if pulled:
            docker("rmi", "--force", *set(pulled), check=False)
    return {"rounds": rounds, **{case: case_figures(seconds[case]) for case, _ in CASES}}


def case_figures(seconds: dict) -> dict:
    from bench.paired import ratio

    image, source = seconds["image"], seconds["source"]
    return {"image_instance_s": round(statistics.median(image["instance"]), 2),
            "source_instance_s": round(statistics.median(source["instance"]), 2),
            "image_vs_source": ratio(image["instance"], source["instance"]),
            "pull_step_s": round(statistics.median(image["step"]), 2),
            "build_step_s": round(statistics.median(source["step"]), 2),
            "pull_vs_build": ratio(image["step"], source["step"]),
            "image_steps": image["steps"], "source_steps": source["steps"]}


def by_image_line(figures: dict) -> str:
    def case(name: str, what: str) -> str:
        found = figures[name]
        ratio = found["image_vs_source"]
        return (f"  - {what}: by image {found['image_instance_s']} s, by source bundle {found['source_instance_s']}"
                f" s: {ratio['median']:.2f}× ({ratio['low']:.2f}× to {ratio['high']:.2f}× over the rounds); of "
                f"which the pull {found['pull_step_s']} s against the build {found['build_step_s']} s, and the "
                f"rest (hooks, migration, container switch, health) about "
                f"{found['image_instance_s'] - found['pull_step_s']:.1f} s against "
                f"{found['source_instance_s'] - found['build_step_s']:.1f} s.")

    return ("- Per-instance deploy time of a code change, by image against by source bundle (goal ≤ 0.5×), on "
            f"local EB instances that start as new EC2 hosts do (their own build cache; medians of "
            f"{figures['rounds']} rounds). Both exclude the base image's download (the engine holds it); the pull "
            "comes from a registry on this machine.\n"
            + case("cold", "a new instance (scale-out, the additional batch, Immutable)") + "\n"
            + case("warm", "an instance that ran the previous version"))


if __name__ == "__main__":
    import json

    found = image_release_figures()
    print(json.dumps(found, indent=2))
    if "skipped" not in found:
        print(by_image_line(found))
