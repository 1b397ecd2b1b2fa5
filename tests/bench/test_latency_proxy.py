"""bench/latency_proxy.py: the 'database far away' rows are only as true as the delay it adds."""

from __future__ import annotations

import socket
import socketserver
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

from testkit.ports import free_port
from testkit.tree import ROOT

DELAY_MS = 2.0


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@contextmanager
def proxied_echo():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = free_port()
    proxy = subprocess.Popen([sys.executable, "-m", "bench.latency_proxy", "--listen", str(port), "--to",
                              f"127.0.0.1:{server.server_address[1]}", "--delay-ms", str(DELAY_MS)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                connection = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with connection:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            yield connection, port
    finally:
        proxy.terminate()
        proxy.wait(10)
        server.shutdown()
        server.server_close()


def receive(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        assert chunk, "the proxy closed the connection early"
        data += chunk
    return data


def test_each_round_trip_takes_the_delay_both_ways_and_no_more_than_a_little_extra():
    with proxied_echo() as (connection, _):
        samples = []
        for n in range(30):
            started = time.perf_counter()
            connection.sendall(b"ping %d" % n)
            assert receive(connection, len(b"ping %d" % n)) == b"ping %d" % n
            samples.append((time.perf_counter() - started) * 1000)
    assert min(samples) >= 2 * DELAY_MS
    assert statistics.median(samples) < 2 * DELAY_MS + 3, samples  # generous: a loaded CI machine


def test_bytes_arrive_intact_and_in_order_and_several_connections_do_not_wait_on_each_other():
    payload = bytes(range(256)) * 4096  # 1 MiB, more than one recv()
    with proxied_echo() as (connection, port):
        connection.sendall(payload)
        assert receive(connection, len(payload)) == payload
        others = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(8)]
        for other in others:  # connected through to the server before the clock starts
            other.sendall(b"x")
            assert receive(other, 1) == b"x"
        started = time.perf_counter()
        for i, other in enumerate(others):
            other.sendall(b"%d" % i)
        assert [receive(other, len(b"%d" % i)) for i, other in enumerate(others)] == [b"%d" % i for i in
                                                                                  range(8)]
        elapsed_ms = (time.perf_counter() - started) * 1000
        for other in others:
            other.close()
    assert elapsed_ms < 8 * 2 * DELAY_MS, "connections were served one after another"


def test_a_close_reaches_the_other_side():
    with proxied_echo() as (connection, _):
        connection.shutdown(socket.SHUT_WR)
        connection.settimeout(5)
        assert connection.recv(1) == b""  # the echo server saw the close and closed in turn
