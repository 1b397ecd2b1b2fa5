"""A TCP proxy that delays every byte by a fixed time each way: a database across a network.

    python -m bench.latency_proxy --listen 6543 --to 127.0.0.1:5432 --delay-ms 0.25

On Elastic Beanstalk the app reaches RDS over the network, a few tenths of a
millisecond away; with PostgreSQL on the same machine a benchmark would never
see a worker wait for it. Threads rather than asyncio because asyncio's timers
round sub-millisecond waits up to a millisecond. Runs in its own process, so
its CPU is not counted as the app's.
"""

from __future__ import annotations

import argparse
import queue
import socket
import threading
import time


def pipe(source: socket.socket, target: socket.socket, delay: float) -> None:
    """Copy source to target, each chunk sent `delay` seconds after it arrived, in order."""
    chunks: queue.SimpleQueue = queue.SimpleQueue()

    def send() -> None:
        try:
            while (item := chunks.get()) is not None:
                due, data = item
                if (wait := due - time.monotonic()) > 0:
                    time.sleep(wait)
                target.sendall(data)
        except OSError:
            pass
        finally:
            target.close()

    threading.Thread(target=send, daemon=True).start()
    try:
        while data := source.recv(65536):
            chunks.put((time.monotonic() + delay, data))
    except OSError:
        pass
    chunks.put(None)


def serve(listen: int, host: str, port: int, delay: float) -> None:
    with socket.create_server(("127.0.0.1", listen)) as server:
        while True:
            client, _ = server.accept()
            try:
                upstream = socket.create_connection((host, port))
            except OSError:
                client.close()
                continue
            for conn in (client, upstream):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=pipe, args=(client, upstream, delay), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, client, delay), daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=int, required=True, help="local port to accept on")
    parser.add_argument("--to", required=True, help="HOST:PORT to forward to")
    parser.add_argument("--delay-ms", type=float, default=0.25, help="added each way (default 0.25)")
    args = parser.parse_args()
    host, _, port = args.to.rpartition(":")
    serve(args.listen, host, int(port), args.delay_ms / 1000)


if __name__ == "__main__":
    main()
