"""Round trips between a client and a database, counted on the wire.

A TCP proxy in a thread: a round trip is the client speaking after the
server has (or first), then waiting for the answer. Everything the driver
sends is seen, SQLAlchemy's statements and what it does not see alike (the
pool's ping, psycopg2's BEGIN, the ROLLBACK as a connection goes back to the
pool).
"""

from __future__ import annotations

import selectors
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


class RoundTrips:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.count = 0
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.server, selectors.EVENT_READ)
        self._client_spoke_last: dict[socket.socket, bool] = {}  # per client socket
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            for key, _ in self._selector.select(0.05):
                if key.fileobj is self.server:
                    self._accept()
                else:
                    self._forward(key.fileobj, *key.data)

    def _accept(self) -> None:
        client, _ = self.server.accept()
        upstream = socket.create_connection(self.upstream)
        self._client_spoke_last[client] = False
        self._selector.register(client, selectors.EVENT_READ, (upstream, client))
        self._selector.register(upstream, selectors.EVENT_READ, (client, client))

    def _forward(self, source: socket.socket, target: socket.socket, client: socket.socket) -> None:
        data = source.recv(65536)
        if not data:
            for end in (source, target):
                self._selector.unregister(end)
                end.close()
            self._client_spoke_last.pop(client, None)
            return
        from_client = source is client
        with self._lock:
            if from_client and not self._client_spoke_last[client]:
                self.count += 1
            self._client_spoke_last[client] = from_client
        target.sendall(data)

    @contextmanager
    def counting(self) -> Iterator[list[int]]:
        """The round trips made while the block runs, as a one-item list filled in at its end."""
        with self._lock:
            start = self.count
        counted: list[int] = []
        yield counted
        with self._lock:
            counted.append(self.count - start)

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(5)
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()
        self._selector.close()


@contextmanager
def round_trips(url: str) -> Iterator[tuple[str, RoundTrips]]:
    """`url` rewritten to pass through a RoundTrips proxy, and the proxy."""
    parsed = sa.make_url(url)
    proxy = RoundTrips((parsed.host or "127.0.0.1", parsed.port or 5432))
    try:
        yield parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), proxy
    finally:
        proxy.close()
