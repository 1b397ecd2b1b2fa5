"""Deploy figures: bundle size and build time; `python -m deploy release` against `eb deploy`,
both on the same local AWS (moto with the EB extension, no simulated delay)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
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


def local_release_figures() -> dict:
    """Seconds from `python -m deploy release` starting to the new version served through nginx on a local EB
    instance (localeb, attached to the local AWS), against its floor: the same code-only change built
    (dependencies cached) and started as a bare container until /healthz answers."""
    from moto.server import ThreadedMotoServer

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

        eb_api.set_delay(0)
        moto_port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
        server.start()
        endpoint = f"http://127.0.0.1:{moto_port}"
        requests.post(f"{endpoint}/moto-api/reset", timeout=30).raise_for_status()
        env = {**os.environ, "AWS_ENDPOINT_URL": endpoint}

        def release(tree: Path, label: str) -> float:
            begun = time.monotonic()
            subprocess.run([sys.executable, "-m", "deploy", "--region", "us-east-1", "--poll", "0.2", "release",
                            "--app", "board", "--env", "board-local", "--label", label, "--no-gate"], cwd=tree, env=env,
                           check=True, capture_output=True)
            while requests.get(fleet.url + "/version", timeout=5).json()["version"] != label:
                time.sleep(0.1)
            return round(time.monotonic() - begun, 2)

        try:
            with Fleet(instances=1, port=free_port(), echo=lambda line: None) as fleet:
                eb_api.attach("board-local", fleet)
                provision(Clients(region="us-east-1", endpoint_url=endpoint), "board", "board-local",
                          DatabaseChoice(url=eb_api.stand_in_database_url(fleet)), out=lambda line: None)
                release(ROOT, "bench-first")
                seconds = release(changed_tree("release"), "bench-code-change")
        finally:
            eb_api.detach("board-local")
            server.stop()
    return {"local_release_s": seconds, "local_floor_s": floor}
