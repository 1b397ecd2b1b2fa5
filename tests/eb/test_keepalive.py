"""Keep-alive, hop by hop: each server keeps an idle connection open longer than the client in front of it
may reuse it, so no request is sent on a connection the next hop has just closed. ELB's advice for its
targets ("Connection idle timeout": the application's idle timeout above the load balancer's, else a 502),
applied to every hop: load balancer -> the instance's nginx -> gunicorn. Read from the files each hop uses."""

from __future__ import annotations

import re
import socket
import time

import pytest

from deploy.ebextensions import read_extensions
from deploy.namespaces import LOAD_BALANCER
from localeb import proxy
from testkit.servers import gunicorn, gunicorn_setting
from testkit.tree import ROOT

ALB_IDLE_DEFAULT = 60  # ELB's default idle timeout, when aws:elbv2:loadbalancer IdleTimeout is unset
NGINX_CLIENT_DEFAULT = 75  # nginx's keepalive_timeout (ngx_http_core_module) when no file sets it
NGINX_UPSTREAM_DEFAULT = 60  # nginx's upstream keepalive_timeout (ngx_http_upstream_module) when unset
PLATFORM_CONFS = {"docker": proxy.PLATFORM_CONF, "python": proxy.PYTHON_PLATFORM_CONF}


def seconds(text: str, directive: str, default: int) -> int:
    """The value of `directive` (whole seconds) in an nginx file, or nginx's default."""
    found = re.findall(rf"^\s*{directive}\s+(\d+)s?\s*;", text, re.MULTILINE)
    return int(found[-1]) if found else default


def load_balancer_idle_timeout() -> int:
    return int(read_extensions(ROOT).options.get(LOAD_BALANCER, {}).get("IdleTimeout", ALB_IDLE_DEFAULT))


def nginx_idle_timeout(platform: str) -> int:
    """How long the instance's nginx keeps an idle client (load balancer) connection: its platform's file and
    this bundle's conf.d files."""
    texts = [PLATFORM_CONFS[platform].read_text()]
    texts += [path.read_text() for path in sorted((ROOT / ".platform" / "nginx").rglob("*.conf"))]
    return min(seconds(text, "keepalive_timeout", NGINX_CLIENT_DEFAULT) for text in texts)


def gunicorn_keepalive() -> int:
    return gunicorn_setting("keepalive")


@pytest.mark.parametrize("platform", PLATFORM_CONFS)
def test_the_load_balancer_gives_up_an_idle_connection_before_the_instances_nginx(platform):
    assert load_balancer_idle_timeout() < nginx_idle_timeout(platform)


def test_nginx_gives_up_an_idle_upstream_connection_before_gunicorn():
    # The Docker platform's upstream block keeps idle connections to the container; it sets no timeout.
    upstream = seconds(proxy.upstream("172.17.0.2", 8000), "keepalive_timeout", NGINX_UPSTREAM_DEFAULT)
    assert "keepalive 256;" in proxy.upstream("172.17.0.2", 8000)
    assert upstream < gunicorn_keepalive()


def request(connection: socket.socket) -> bytes:
    connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: board\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        chunk = connection.recv(65536)
        if not chunk:
            break
        answer += chunk
    return answer


def test_gunicorn_keeps_an_idle_connection_open_past_its_old_five_seconds(tmp_path):
    """The setting really reaches gunicorn: a connection idle for longer than gunicorn's old keepalive (5 s)
    still answers a second request, where it used to be closed under nginx."""
    server = gunicorn(ROOT, log_path=tmp_path / "gunicorn.log", APP_ENV="test", SECRET_KEY="k" * 40,
                      DATABASE_URL=f"sqlite:///{tmp_path / 'board.sqlite'}")
    with server as (url, _), socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=10) as peer:
        assert request(peer).startswith(b"HTTP/1.1 200")
        time.sleep(7)  # past the old keepalive, and past gunicorn's one-second check
        assert request(peer).startswith(b"HTTP/1.1 200")
