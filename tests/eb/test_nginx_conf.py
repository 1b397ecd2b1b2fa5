"""`nginx -t` on the proxy configuration EB would stage for this bundle, on each platform: the platform's
nginx.conf (localeb/instance-image/nginx.conf, nginx-python.conf) and what it generates, with the bundle's
`.platform/nginx/` merged in, checked by the host's real nginx (Debian's)."""

from __future__ import annotations

import http.client
import http.server
import ipaddress
import re
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from deploy.provision import STATIC_FILES
from localeb import proxy
from testkit.components import unavailable
from testkit.ports import free_port
from testkit.servers import wait_until
from testkit.tree import ROOT


def nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        unavailable("REQUIRE_NGINX", "no nginx on this machine (Debian: apt-get install nginx-light)")
    return found


PLATFORMS = ["docker", "python"]


def staged(staging: Path, tmp_path: Path, platform: str = "docker", app: tuple[str, int] = ("172.17.0.2", 8000),
           port: int = 80) -> list[str]:
    """Stage as the platform does, listening on `port`, its absolute runtime paths pointed into tmp_path so any
    user can run it, the app at `app`; the nginx command line to run it with."""
    if platform == "python":
        staged = proxy.stage_python(staging, tmp_path / "nginx", app[1], STATIC_FILES, str(staging))
    else:
        staged = proxy.stage(staging, tmp_path / "nginx", *app)
    conf = staged / "nginx.conf"
    (tmp_path / "log").mkdir()
    text = conf.read_text().replace("/var/log/nginx", str(tmp_path / "log")).replace(
        "/var/run/nginx.pid", str(tmp_path / "nginx.pid")).replace("user                    nginx;", "")
    conf.write_text(re.sub(r"listen +80 default_server;",
                           f"listen {port} default_server;\n        listen [::]:{port} default_server;", text))
    return [nginx(), "-c", str(conf), "-e", str(tmp_path / "log" / "error.log")]


def check(staging: Path, tmp_path: Path, platform: str = "docker") -> subprocess.CompletedProcess:
    return subprocess.run([*staged(staging, tmp_path, platform), "-t"], capture_output=True, text=True)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_platform_config_with_this_bundles_files_passes_nginx_t(tmp_path, platform):
    result = check(ROOT, tmp_path, platform)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_conf_d_file_repeating_a_platform_directive_fails_nginx_t(tmp_path, platform):
    bundle = tmp_path / "bundle"
    shutil.copytree(ROOT / ".platform", bundle / ".platform")
    extra = bundle / ".platform" / "nginx" / "conf.d" / "elasticbeanstalk" / "zz-gzip.conf"
    extra.write_text("gzip_comp_level 6;\n")  # set in both platforms' server block
    result = check(bundle, tmp_path, platform)
    assert result.returncode != 0
    assert '"gzip_comp_level" directive is duplicate' in result.stderr


def test_on_the_python_platform_static_files_and_the_app_are_locations_of_the_same_server(tmp_path):
    result = check(ROOT, tmp_path, "python")
    assert result.returncode == 0, result.stderr
    merged = subprocess.run([nginx(), "-T", "-c", str(tmp_path / "nginx" / "nginx.conf"), "-e",
                             str(tmp_path / "log" / "error.log")], capture_output=True, text=True).stdout
    assert f"proxy_pass          http://127.0.0.1:{proxy.PYTHON_PORT};" in merged
    assert f"alias {ROOT}/board/static/;" in merged and "location /static/ {" in merged
    assert "client_max_body_size 1m;" in merged  # board.conf lands in that server block too


class ForwardedFor(http.server.BaseHTTPRequestHandler):
    """Stands in for the app: answers with the X-Forwarded-For it was sent."""

    def do_GET(self):
        body = (self.headers.get("X-Forwarded-For") or "").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def seen_as_itself(address: str) -> bool:
    """Whether a connection from `address` to this machine arrives from `address` (no NAT in between)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family) as server:
        server.bind((address, 0))
        server.listen()
        with socket.create_connection(server.getsockname()[:2], source_address=(address, 0)):
            peer, _ = server.accept()
            with peer:
                return peer.getpeername()[0] == address


# Where a load balancer inside a VPC connects from: the private ranges (RFC 1918, and IPv6 unique local).
VPC_RANGES = [ipaddress.ip_network(cidr) for cidr in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]


def balancer_address() -> str:
    """An address of this machine in a private range, to send from as a load balancer inside a VPC would."""
    for address in subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split():
        if any(ipaddress.ip_address(address) in network for network in VPC_RANGES) and seen_as_itself(address):
            return address
    return unavailable("REQUIRE_NGINX", "no private address on this machine to send from as a load balancer")


def last_hop(port: int, chain: str, source: str = "127.0.0.1") -> str:
    """The last X-Forwarded-For entry the app gets when `source` sends `chain` to nginx on `port`."""
    connection = http.client.HTTPConnection(source, port, timeout=10, source_address=(source, 0))
    connection.request("GET", "/", headers={"X-Forwarded-For": chain})
    forwarded = connection.getresponse().read().decode()
    connection.close()
    return forwarded.split(",")[-1].strip()


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_app_gets_the_client_as_the_last_forwarded_hop_with_or_without_a_load_balancer(tmp_path, platform):
    balancer = balancer_address()
    app = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ForwardedFor)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    port = free_port()
    process = subprocess.Popen([*staged(ROOT, tmp_path, platform, ("127.0.0.1", app.server_port), port),
                                "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True, 10,
                   "nginx to listen", ignoring=(OSError,))
        # Single instance: the client connects to nginx itself; what it wrote in the header is its own say.
        assert last_hop(port, "192.0.2.50") == "127.0.0.1"
        # Behind a load balancer, which appended the address it saw (after what the client wrote).
        assert last_hop(port, "192.0.2.50, 203.0.113.9", source=balancer) == "203.0.113.9"
    finally:
        process.terminate()
        process.wait(timeout=10)
        app.shutdown()
