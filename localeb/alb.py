"""The local load balancer: one listener in front of target groups, as an Application Load Balancer
forwards (docs/eb-platform.md, "The load balancer"). Standard library only: it runs in the balancer's
container as `python3 alb.py CONFIG STATE PORT [FORWARDED_PORT [ADDRESS [CONTROL_PORT]]]`.

- A registered target starts `initial` and gets requests only once it has passed one health check
  (`healthy`); UnhealthyThresholdCount failures in a row make it `unhealthy`, and an unhealthy target needs
  HealthyThresholdCount passes in a row to be healthy again.
- A target that leaves the configuration is `draining`: no new requests, those in flight finish; it is
  gone when none is left or the deregistration delay has passed.
- No retries: a request a target fails is answered 502 (504 when it times out), never sent elsewhere.
  Each 5xx, the balancer's own (with the target and the error in its body) or a target's, is a line on
  stderr.
- With no healthy target, requests go to every registered target (an ALB fails open).
- `served` counts a target's requests since it was last registered; the state's own `served` map counts
  them across registrations.
- Targets belong to groups with weights (the listener's weighted forward, as traffic splitting uses):
  a group with no target to take a request gives its share to the others.

The fleet writes CONFIG (JSON: health check, deregistration delay, targets, weights); this program reads it
again when it changes, and writes each target's state and counts to STATE. With a CONTROL_PORT it also
answers there, apart from the traffic: `GET /state` (STATE's content, as of now) and `PUT /config` (CONFIG
replaced and applied at once), so the fleet drives it in a request rather than a `docker exec` each time.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "proxy-connection"}
UPSTREAM_TIMEOUT = 60  # the ALB's idle timeout: a target silent this long is a 504


class Target:
    def __init__(self, target_id: str, address: str, group: str):
        self.id, self.address, self.group = target_id, address, group
        self.state = "initial"
        self.passes = self.fails = 0
        self.in_flight = self.served = 0
        self.draining_since: float | None = None
        self.reason = "Elb.RegistrationInProgress"


class Balancer:
    def __init__(self, config_path: str, state_path: str):
        self.config_path, self.state_path = config_path, state_path
        self.lock = threading.Lock()
        self.targets: dict[str, Target] = {}
        self.config: dict = {}
        self.turn = 0
        self.served: dict[str, int] = {}  # requests each target id took, across registrations
        self.reloading = threading.Lock()  # the watch loop and the control port both reload

    # --- configuration ---------------------------------------------------------------------------
    def reload(self) -> None:
        with self.reloading:
            self._reload()

    def replace_config(self, data: bytes) -> None:
        """A new CONFIG, written whole (a reader never sees half of it) and applied now."""
        if not isinstance(json.loads(data), dict):  # refused (ValueError) before it replaces anything
            raise ValueError("the configuration is not a JSON object")
        temporary = self.config_path + ".tmp"
        with self.reloading:
            with open(temporary, "wb") as file:
                file.write(data)
            os.replace(temporary, self.config_path)
            self._reload()

    def _reload(self) -> None:
        with open(self.config_path) as file:
            config = json.load(file)
        if config.get("serial") == self.config.get("serial"):
            return
        with self.lock:
            self.config = config
            wanted = config["targets"]
            for target_id, spec in wanted.items():
                known = self.targets.get(target_id)
                if known is None or known.state == "draining":
                    self.targets[target_id] = Target(target_id, spec["address"], spec.get("group", "default"))
                else:
                    known.group = spec.get("group", "default")
            for target in self.targets.values():
                if target.id not in wanted and target.state != "draining":
                    target.state, target.draining_since = "draining", time.monotonic()
                    target.reason = "Target.DeregistrationInProgress"

    # --- health checks ---------------------------------------------------------------------------
    def check(self, target: Target, health: dict) -> bool:
        host, _, port = target.address.partition(":")
        connection = http.client.HTTPConnection(host, int(port or 80), timeout=health["timeout"])
        try:
            connection.request("GET", health["path"], headers={"User-Agent": "ELB-HealthChecker/2.0"})
            status = connection.getresponse().status
        except OSError:
            return False
        finally:
            connection.close()
        return str(status) in matcher(health["matcher"])

    def check_all(self) -> None:
        health = self.config["health"]
        with self.lock:
            targets = [target for target in self.targets.values() if target.state != "draining"]
        for target in targets:
            passed = self.check(target, health)
            with self.lock:
                if target.state == "draining" or self.targets.get(target.id) is not target:
                    continue  # deregistered while its check ran: the answer no longer counts
                if passed:
                    target.passes, target.fails = target.passes + 1, 0
                    # A newly registered target needs one pass; the threshold is for an unhealthy one.
                    needed = 1 if target.state == "initial" else health["healthy"]
                    if target.passes >= needed and target.state != "healthy":
                        target.state, target.reason = "healthy", ""
                else:
                    target.passes, target.fails = 0, target.fails + 1
                    if target.fails >= health["unhealthy"] and target.state != "unhealthy":
                        target.state, target.reason = "unhealthy", "Target.FailedHealthChecks"

    def sweep(self) -> None:
        """Finish the deregistration of draining targets with nothing in flight, or past the delay."""
        delay = self.config.get("deregistration_delay", 0)
        with self.lock:
            for target in list(self.targets.values()):
                if target.state == "draining" and (target.in_flight == 0 or
                                                   time.monotonic() - target.draining_since >= delay):
                    del self.targets[target.id]

    def snapshot(self) -> dict:
        with self.lock:
            state = {target.id: {"state": target.state, "reason": target.reason, "group": target.group,
                                 "in_flight": target.in_flight, "served": target.served}
                     for target in self.targets.values()}
            return {"targets": state, "served": dict(self.served), "serial": self.config.get("serial", 0)}

    def write_state(self) -> None:
        temporary = self.state_path + ".tmp"
        with open(temporary, "w") as file:
            json.dump(self.snapshot(), file)
        os.replace(temporary, self.state_path)

    def watch(self) -> None:
        next_check = 0.0
        while True:
            try:
                self.reload()
                self.sweep()
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + self.config["health"]["interval"]
                    self.check_all()
                self.write_state()
            except Exception as error:  # keep balancing whatever one round met
                report(repr(error))
            time.sleep(0.05)

    # --- routing ---------------------------------------------------------------------------------
    def choose(self) -> Target | None:
        with self.lock:
            registered = [target for target in self.targets.values() if target.state != "draining"]
            takers = [target for target in registered if target.state == "healthy"]
            if not takers and registered and all(target.state == "unhealthy" for target in registered):
                takers = registered  # fail open
            if not takers:
                return None
            weights = self.config.get("weights") or {}
            groups = sorted({target.group for target in takers})
            shares = [max(0, int(weights.get(group, 100))) for group in groups]
            group = random.choices(groups, shares)[0] if sum(shares) else groups[0]
            members = sorted((target for target in takers if target.group == group), key=lambda t: t.id)
            self.turn += 1
            target = members[self.turn % len(members)]
            target.in_flight += 1
            target.served += 1
            self.served[target.id] = self.served.get(target.id, 0) + 1
            return target

    def done(self, target: Target) -> None:
        with self.lock:
            target.in_flight -= 1


def report(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} alb: {line}", file=sys.stderr, flush=True)


def matcher(codes: str) -> set[str]:
    """MatcherHTTPCode: codes separated by commas, or a range such as 200-299."""
    found: set[str] = set()
    for part in str(codes).split(","):
        low, _, high = part.strip().partition("-")
        found.update(str(code) for code in range(int(low), int(high or low) + 1))
    return found


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    balancer: Balancer
    port = 80

    def log_message(self, *args) -> None:
        pass

    def body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                data += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b""):
                pass
            return data
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    def answer(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def forward(self) -> None:
        data = self.body()
        target = self.balancer.choose()
        if target is None:
            self.answer(503, [("Content-Type", "text/plain")], b"503 Service Temporarily Unavailable\n")
            return
        try:
            headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
            forwarded = self.headers.get("X-Forwarded-For")
            client = self.client_address[0]
            headers.update({"X-Forwarded-For": f"{forwarded}, {client}" if forwarded else client,
                            "X-Forwarded-Proto": "http", "X-Forwarded-Port": str(self.port),
                            "Connection": "close"})
            host, _, port = target.address.partition(":")
            connection = http.client.HTTPConnection(host, int(port or 80), timeout=UPSTREAM_TIMEOUT)
            try:
                connection.request(self.command, self.path, body=data, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                kept = [(name, value) for name, value in response.getheaders()
                        if name.lower() not in HOP_BY_HOP and name.lower() != "content-length"]
            finally:
                connection.close()
        except (OSError, http.client.HTTPException) as error:
            status = 504 if isinstance(error, TimeoutError) else 502
            # Which target and why, in the answer and the log: an ALB's access log names the target of each
            # request; without it a 502 here reads like one from the instance's nginx.
            reason = f"{http.HTTPStatus(status).phrase} (the load balancer, target {target.id}: {error!r})"
            kept, payload = [("Content-Type", "text/plain")], f"{status} {reason}\n".encode()
            report(f"{status} {self.command} {self.path}: {reason}")
        else:
            status = response.status
            if status >= 500:
                report(f"{status} {self.command} {self.path}: answered by target {target.id}")
        finally:
            self.balancer.done(target)
        self.answer(status, kept, payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = forward


class ControlHandler(BaseHTTPRequestHandler):
    """The fleet's side door: never the traffic's port."""
    protocol_version = "HTTP/1.1"
    balancer: Balancer

    def log_message(self, *args) -> None:
        pass

    def reply(self, status: int, data: bytes = b"") -> None:
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path != "/state":
            self.reply(404)
            return
        self.reply(200, json.dumps(self.balancer.snapshot()).encode())

    def do_PUT(self) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/config":
            self.reply(404)
            return
        try:
            self.balancer.replace_config(data)
        except ValueError as error:
            self.reply(400, json.dumps({"error": str(error)}).encode())
            return
        self.reply(204)


def serve(server: ThreadingHTTPServer) -> None:
    server.daemon_threads = True
    server.serve_forever()


def main() -> None:
    config_path, state_path, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    # Inside its own container it listens on every interface (the published port reaches it there).
    bind = sys.argv[5] if len(sys.argv) > 5 else "0.0.0.0"  # noqa: S104
    balancer = Balancer(config_path, state_path)
    balancer.reload()
    threading.Thread(target=balancer.watch, daemon=True).start()
    if len(sys.argv) > 6:
        ControlHandler.balancer = balancer
        control = ThreadingHTTPServer((bind, int(sys.argv[6])), ControlHandler)
        threading.Thread(target=serve, args=(control,), daemon=True).start()
    Handler.balancer, Handler.port = balancer, int(sys.argv[4]) if len(sys.argv) > 4 else port
    server = ThreadingHTTPServer((bind, port), Handler)
    serve(server)


if __name__ == "__main__":
    main()
