"""The local load balancer (localeb/alb.py) as an ALB target group, against small servers on loopback:
health-gated targets, draining, no retries, failing open."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from localeb import alb
from testkit.ports import free_port
from testkit.servers import wait_until

HEALTH = {"path": "/healthz", "interval": 0.1, "timeout": 0.5, "healthy": 2, "unhealthy": 2, "matcher": "200"}


class Backend:
    """A target: answers its name, /healthz as told, /slow after a second, /error with a 500, /boom by hanging
    up."""

    def __init__(self, name: str, healthy: bool = True):
        self.name, self.healthy, self.hits, self.checks = name, healthy, [], 0
        self.health_delay, self.checking = 0.0, threading.Event()  # a slow health check, and one under way
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == "/healthz":
                    backend.checks += 1
                    backend.checking.set()
                    time.sleep(backend.health_delay)
                    self.send_response(200 if backend.healthy else 503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                backend.hits.append(self.path)
                if self.path == "/boom":
                    self.connection.close()
                    return
                if self.path == "/slow":
                    time.sleep(1)
                body = backend.name.encode()
                self.send_response(500 if self.path == "/error" else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"


class Balancer:
    def __init__(self, folder: Path):
        self.config, self.state = folder / "config.json", folder / "state.json"
        self.serial, self.port, control = 0, free_port(), free_port()
        self.write({})
        self.log = folder / "alb.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen([sys.executable, alb.__file__, str(self.config), str(self.state),
                                             str(self.port), str(self.port), "127.0.0.1", str(control)], stderr=log)
        self.control = f"http://127.0.0.1:{control}"
        self.url = f"http://127.0.0.1:{self.port}"
        wait_until(lambda: self.state.exists(), 10, "the load balancer's state")

    def write(self, targets: dict[str, Backend], delay: float = 5, health: dict | None = None) -> None:
        self.config.write_text(self.next_config(targets, delay, health))

    def put(self, targets: dict[str, Backend], delay: float = 5, health: dict | None = None) -> None:
        """The configuration through the control port, as the fleet applies it: in force when answered."""
        answer = requests.put(self.control + "/config", data=self.next_config(targets, delay, health), timeout=5)
        assert answer.status_code == 204

    def next_config(self, targets: dict[str, Backend], delay: float, health: dict | None) -> str:
        self.serial += 1
        return json.dumps({"serial": self.serial, "health": health or HEALTH, "deregistration_delay": delay,
                           "targets": {name: {"address": backend.address} for name, backend in targets.items()}})

    def states(self) -> dict:
        try:
            return json.loads(self.state.read_text())["targets"]
        except (OSError, ValueError, KeyError):
            return {}

    def wait(self, name: str, state: str) -> None:
        wait_until(lambda: self.states().get(name, {}).get("state") == state, 10, f"{name} {state}")

    def get(self, path: str = "/") -> requests.Response:
        return requests.get(self.url + path, timeout=10)


@pytest.fixture
def balancer(tmp_path):
    started = Balancer(tmp_path)
    yield started
    started.process.terminate()
    started.process.wait(10)


def test_a_new_target_gets_requests_only_once_it_passes_the_health_check(balancer):
    a, b, sick = Backend("a"), Backend("b", healthy=False), Backend("sick", healthy=False)
    balancer.write({"a": a})
    balancer.wait("a", "healthy")
    balancer.write({"a": a, "b": b, "sick": sick})
    wait_until(lambda: b.checks > 0, 5, "b's first health check")
    early = {balancer.get().text for _ in range(10)}
    assert early == {"a"}  # b has passed no check yet
    b.healthy = True
    balancer.wait("b", "healthy")
    balancer.wait("sick", "unhealthy")
    assert {balancer.get().text for _ in range(10)} == {"a", "b"}
    assert sick.hits == []


def test_a_new_target_is_healthy_after_one_check_and_an_unhealthy_one_after_the_threshold(balancer):
    health = {**HEALTH, "interval": 0.3, "healthy": 5}
    a = Backend("a")
    balancer.write({"a": a}, health=health)
    balancer.wait("a", "healthy")
    assert a.checks < health["healthy"]  # one pass (and perhaps the next check, while the state was read)
    a.healthy = False
    balancer.wait("a", "unhealthy")
    failed = a.checks
    a.healthy = True
    balancer.wait("a", "healthy")
    assert a.checks - failed >= health["healthy"]


def test_a_failed_request_is_answered_502_and_not_retried_on_another_target(balancer):
    a, b = Backend("a"), Backend("b")
    balancer.write({"a": a, "b": b})
    balancer.wait("a", "healthy")
    balancer.wait("b", "healthy")
    answers = [balancer.get("/boom") for _ in range(4)]
    assert [answer.status_code for answer in answers] == [502] * 4
    assert len(a.hits) == len(b.hits) == 2  # each request reached one target once
    # Whose 502 it was, and why: the answer and the balancer's log say (nginx's 502 would not name a target).
    said = {answer.text.split(": ")[0] for answer in answers}
    assert said == {"502 Bad Gateway (the load balancer, target a", "502 Bad Gateway (the load balancer, target b"}
    assert "RemoteDisconnected" in answers[0].text
    assert balancer.log.read_text().count("alb: 502 GET /boom: Bad Gateway (the load balancer, target ") == 4
    # A target's own 5xx passes through as it is, and is logged with the target's name.
    failed = balancer.get("/error")
    assert failed.status_code == 500 and failed.text in {"a", "b"}
    assert f"alb: 500 GET /error: answered by target {failed.text}" in balancer.log.read_text()


def test_a_deregistered_target_finishes_its_requests_and_gets_no_new_ones(balancer):
    a, b = Backend("a"), Backend("b")
    balancer.write({"a": a})
    balancer.wait("a", "healthy")
    slow: list[requests.Response] = []
    reader = threading.Thread(target=lambda: slow.append(balancer.get("/slow")))
    reader.start()
    wait_until(lambda: balancer.states()["a"]["in_flight"] == 1, 5, "a request in flight on a")
    balancer.write({"b": b})  # a leaves, b arrives
    balancer.wait("a", "draining")
    balancer.wait("b", "healthy")
    assert {balancer.get().text for _ in range(5)} == {"b"}
    reader.join(10)
    assert slow[0].status_code == 200 and slow[0].text == "a"
    wait_until(lambda: "a" not in balancer.states(), 5, "a's deregistration to complete")


def test_a_target_deregistered_while_its_health_check_runs_stays_out(balancer):
    """The check's answer comes after the deregistration: it must not make a draining target healthy again
    (it would take new requests while its instance is redeployed) nor keep it registered as unhealthy."""
    health = {**HEALTH, "timeout": 2}
    a, b = Backend("a"), Backend("b")
    balancer.put({"a": a, "b": b}, health=health)
    balancer.wait("a", "healthy")
    balancer.wait("b", "healthy")
    a.health_delay = 0.5
    a.checking.clear()
    assert a.checking.wait(5)  # a check of `a` is under way
    balancer.put({"b": b}, health=health)
    time.sleep(1)  # its answer is in
    assert balancer.states().get("a", {}).get("state") in (None, "draining")
    hits = len(a.hits)
    assert {balancer.get().text for _ in range(10)} == {"b"} and len(a.hits) == hits
    wait_until(lambda: "a" not in balancer.states(), 10, "a to be gone")


def test_with_no_healthy_target_requests_go_to_every_target(balancer):
    a = Backend("a", healthy=False)
    balancer.write({"a": a})
    balancer.wait("a", "unhealthy")
    assert balancer.get().text == "a"  # an ALB fails open


def test_matcher_http_code_takes_lists_and_ranges():
    assert alb.matcher("200") == {"200"}
    assert alb.matcher("200,302") == {"200", "302"}
    assert alb.matcher("200-204") == {"200", "201", "202", "203", "204"}


def test_the_control_port_applies_a_configuration_at_once_and_refuses_a_broken_one(tmp_path):
    """The fleet's side door: a PUT is in force when it is answered (no file watch to wait for); what is not
    JSON changes nothing."""
    control, listener = free_port(), free_port()
    config, state = tmp_path / "config.json", tmp_path / "state.json"
    config.write_text(json.dumps({"serial": 1, "health": HEALTH, "deregistration_delay": 5, "targets": {}}))
    process = subprocess.Popen([sys.executable, alb.__file__, str(config), str(state), str(listener), str(listener),
                                "127.0.0.1", str(control)])
    try:
        url = f"http://127.0.0.1:{control}"
        wait_until(lambda: requests.get(url + "/state", timeout=2).ok, 10, "the control port")
        a = Backend("a")
        wanted = {"serial": 2, "health": HEALTH, "deregistration_delay": 5, "targets": {"a": {"address": a.address}}}
        assert requests.put(url + "/config", data=json.dumps(wanted), timeout=5).status_code == 204
        now = requests.get(url + "/state", timeout=5).json()
        assert now["serial"] == 2 and now["targets"]["a"]["state"] == "initial"
        assert json.loads(config.read_text()) == wanted  # kept where a restarted balancer reads it
        for broken in (b'{"serial": 3, "targ', b'["serial", 3]'):
            assert requests.put(url + "/config", data=broken, timeout=5).status_code == 400
        assert requests.get(url + "/state", timeout=5).json()["serial"] == 2
        assert json.loads(config.read_text()) == wanted
        # The listener forwards /state as any path (to a, or 503 before a's first check): the state is not there.
        assert "serial" not in requests.get(f"http://127.0.0.1:{listener}/state", timeout=5).text
    finally:
        process.terminate()
        process.wait(10)
