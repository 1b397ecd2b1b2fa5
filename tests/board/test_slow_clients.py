"""Clients that open connections and send nothing, or half a request head, never stall the real gunicorn
with gunicorn.conf.py, as `make run` and compose face them (on EB nginx sends gunicorn whole heads)."""

from __future__ import annotations

import http.client
import signal
import socket
import time
from contextlib import ExitStack

import pytest
import requests
from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER

from board.config import GUNICORN_THREADS, REQUEST_HEAD_TIMEOUT
from testkit.servers import gunicorn, wait_until
from tests.board.test_gunicorn import copy_app

pytestmark = pytest.mark.slow
# More than the threads a worker has, of each kind.
HELD = GUNICORN_THREADS.default + 4


def connect(base: str, stack: ExitStack, sending: bytes = b"") -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    sock = stack.enter_context(socket.create_connection((host, int(port)), timeout=30))
    if sending:
        sock.sendall(sending)
    return sock


def answer(sock: socket.socket) -> http.client.HTTPResponse:
    response = http.client.HTTPResponse(sock)
    response.begin()
    response.read()
    return response


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(0.1)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


@pytest.mark.parametrize("reloading", ["", "1"], ids=["production", "make-run"])
def test_idle_and_half_sent_connections_do_not_stall_gunicorn(tmp_path, reloading):
    # The log outside the app: the reloader watches the app's folder.
    with gunicorn(copy_app(tmp_path / "app"), log_path=tmp_path / "gunicorn.log", AUTO_RELOAD=reloading) as (
            base, _), ExitStack() as stack:
        idle = [connect(base, stack) for _ in range(HELD)]
        half = [connect(base, stack, b"GET /healthz HTTP/1.1\r\nHost: x\r\n") for _ in range(HELD)]
        # The slow ones are still open, each holding what gthread gave a thread; a visitor is answered.
        response = requests.get(base + "/healthz", timeout=5)
        assert response.status_code == 200
        assert not any(closed_by_server(sock) for sock in idle + half)
        # A head that is slow but whole in time is answered as usual.
        slow = connect(base, stack, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        time.sleep(1)
        slow.sendall(b"Connection: close\r\n\r\n")
        assert slow.makefile("rb").readline().startswith(b"HTTP/1.1 200")
        # Heads that never complete are closed, so they cannot be held open forever.
        wait_until(lambda: all(closed_by_server(sock) for sock in idle + half), REQUEST_HEAD_TIMEOUT * 3,
                   "the slow connections to close")


def test_a_kept_alive_connection_sending_half_a_head_does_not_hold_a_thread(tmp_path):
    with gunicorn(copy_app(tmp_path)) as (base, _), ExitStack() as stack:
        kept = []
        for _ in range(HELD):
            sock = connect(base, stack, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            reply = sock.recv(65536)
            assert reply.startswith(b"HTTP/1.1 200") and b"connection: close" not in reply.lower()
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # the next request, never finished
            kept.append(sock)
        for _ in range(HELD):  # a whole request and the start of the next, sent together
            sock = connect(base, stack, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert requests.get(base + "/healthz", timeout=5).status_code == 200


def test_a_head_too_long_to_be_one_is_refused_with_431_without_holding_a_thread(tmp_path):
    with gunicorn(copy_app(tmp_path)) as (base, _), ExitStack() as stack:
        # A valid head, longer than any a browser sends, that never ends.
        long = [connect(base, stack, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Filler: " + b"y" * 8000 + b"\r\n")
                for _ in range(HELD)]
        for sock in long:
            for _ in range(10):
                sock.sendall(b"X-Filler: " + b"y" * 8000 + b"\r\n")
        assert requests.get(base + "/healthz", timeout=5).status_code == 200
        for sock in long:
            assert sock.makefile("rb").readline().startswith(b"HTTP/1.1 431")


def test_a_stop_answers_a_request_on_a_kept_alive_connection_then_closes_idle_ones_before_gunicorns_linger(
        tmp_path):
    """Behind nginx every stop used to wait out gthread's two-second linger for the idle upstream connections
    nginx keeps; a client still sending on a kept-alive connection is answered, with "Connection: close"."""
    with gunicorn(copy_app(tmp_path)) as (base, process), ExitStack() as stack:
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        idle, busy = connect(base, stack, request), connect(base, stack, request)
        for sock in (idle, busy):
            assert answer(sock).status == 200
        process.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        time.sleep(0.1)
        busy.sendall(request)
        reply = answer(busy)
        assert reply.status == 200 and reply.getheader("Connection") == "close"
        busy.close()  # as nginx does on "close" (gthread waits for the client to close first)
        wait_until(lambda: closed_by_server(idle), STOP_KEEPALIVE_LINGER * 3, "the idle connection to close")
        assert time.monotonic() - stopping < STOP_KEEPALIVE_LINGER
        assert process.wait(timeout=15) == 0


def test_a_stop_closes_a_connection_idle_since_before_it_at_once(tmp_path):
    """An EB deployment stops the app of an instance the load balancer has drained: the upstream connections
    its nginx keeps have long been idle, and waiting out even the short linger for them only slows the deploy."""
    with gunicorn(copy_app(tmp_path)) as (base, process), ExitStack() as stack:
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        idle = connect(base, stack, request)
        assert answer(idle).status == 200
        time.sleep(1.5)  # longer than the worker's STOP_IDLE
        process.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        wait_until(lambda: closed_by_server(idle), STOP_KEEPALIVE_LINGER * 3, "the idle connection to close")
        assert time.monotonic() - stopping < 0.4  # the linger is 0.5 s
        assert process.wait(timeout=15) == 0


def test_a_request_in_flight_at_a_stop_is_answered_and_its_connection_closed_before_gunicorns_linger(tmp_path):
    """A request begun before the stop is answered as keep-alive (gthread decides that when it starts); gthread
    then keeps the connection two seconds, the worker half a second."""
    with gunicorn(copy_app(tmp_path)) as (base, process), ExitStack() as stack:
        body = b"title=" + b"x" * 94
        sock = connect(base, stack, b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-"
                                    b"urlencoded\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:10])
        time.sleep(1)  # the head is whole: a thread begins the request at once (a second for a busy machine)
        process.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        time.sleep(0.1)
        sock.sendall(body[10:])
        reply = answer(sock)
        assert reply.status == 400 and reply.getheader("Connection") != "close"  # refused form, whole answer
        wait_until(lambda: closed_by_server(sock), STOP_KEEPALIVE_LINGER * 3, "the connection to close")
        assert time.monotonic() - stopping < STOP_KEEPALIVE_LINGER
        assert process.wait(timeout=15) == 0
