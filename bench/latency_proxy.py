"""A TCP proxy that delays every byte by a fixed time each way: a database across a network.

    python -m bench.latency_proxy --listen 6543 --to 127.0.0.1:5432 --delay-ms 0.25

On Elastic Beanstalk the app reaches RDS over the network, a few tenths of a
millisecond away; with PostgreSQL on the same machine a benchmark would never
see a worker wait for it. Linux's netem would add the delay without using CPU,
but it needs kernel modules a container seldom has.

One thread around select(): a thread per socket made the proxy itself the
bottleneck (a dozen pooled connections contending for one GIL), and select()
takes its timeout in microseconds where epoll and asyncio's timers round
sub-millisecond waits up to a whole one. It runs in its own process, so its CPU
is not counted as the app's, though it shares the machine's cores.
"""

from __future__ import annotations

import argparse
import selectors
import socket
import time
from collections import deque


class Proxy:
    def __init__(self, listen: int, upstream: tuple[str, int], delay: float) -> None:
        self.upstream, self.delay = upstream, delay
        self.selector = selectors.SelectSelector()
        self.server = socket.create_server(("127.0.0.1", listen))
        self.selector.register(self.server, selectors.EVENT_READ)
        # (when, to, data): one fixed delay, so chunks fall due in the order they arrived.
        self.due: deque[tuple[float, socket.socket, bytes]] = deque()

    def run(self) -> None:
        while True:
            timeout = max(self.due[0][0] - time.monotonic(), 0) if self.due else None
            for key, _ in self.selector.select(timeout):
                if key.fileobj is self.server:
                    self.accept()
                else:
                    self.receive(key.fileobj, key.data)
            self.deliver()

    def accept(self) -> None:
        client, _ = self.server.accept()
        try:
            upstream = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return
        for end, other in ((client, upstream), (upstream, client)):
            end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.selector.register(end, selectors.EVENT_READ, other)

    def receive(self, source: socket.socket, target: socket.socket) -> None:
        try:
            data = source.recv(65536)
        except OSError:
            data = b""
        if not data:  # closed: pass the close on after the delay, like any byte
            self.close(source)
        self.due.append((time.monotonic() + self.delay, target, data))

    def deliver(self) -> None:
        now = time.monotonic()
        while self.due and self.due[0][0] <= now:
            _, target, data = self.due.popleft()
            if target.fileno() == -1:  # already closed
                continue
            if data:
                try:
                    target.sendall(data)  # a blocking socket: the kernel buffer takes a database reply at once
                    continue
                except OSError:
                    pass
            self.close(target)

    def close(self, end: socket.socket) -> None:
        if end in self.selector.get_map():
            self.selector.unregister(end)
        end.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=int, required=True, help="local port to accept on")
    parser.add_argument("--to", required=True, help="HOST:PORT to forward to")
    parser.add_argument("--delay-ms", type=float, default=0.25, help="added each way (default 0.25)")
    args = parser.parse_args()
    host, _, port = args.to.rpartition(":")
    Proxy(args.listen, (host, int(port)), args.delay_ms / 1000).run()


if __name__ == "__main__":
    main()
