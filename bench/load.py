"""A small HTTP/1.1 load generator (asyncio, keep-alive), run in its own process.

    python -m bench.load URL --connections 32 --duration 5     # prints JSON

Python rather than wrk because it installs with the project on any machine;
its own ceiling is reported by the benchmark (the trivial-response run), so
ratios stay meaningful.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from urllib.parse import urlsplit


async def one_connection(host: str, port: int, request: bytes, deadline: float, latencies: list, errors: list,
                         limit: list) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.monotonic() < deadline and (limit[0] is None or limit[0] > 0):
            if limit[0] is not None:
                limit[0] -= 1
            started = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and "close" in value.lower():
                    close = True
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not status_line.startswith(b"HTTP/1.1 2"):
                errors.append(status_line.decode("latin-1").strip())
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    except (ConnectionError, asyncio.IncompleteReadError) as error:
        errors.append(type(error).__name__)
    finally:
        writer.close()


async def run(url: str, connections: int, duration: float, requests: int | None) -> dict:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    request = f"GET {path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: keep-alive\r\n\r\n".encode()
    latencies: list[float] = []
    errors: list[str] = []
    limit = [requests]
    started = time.monotonic()
    deadline = started + (duration if requests is None else 3600)
    await asyncio.gather(*(one_connection(parts.hostname, parts.port or 80, request, deadline, latencies, errors,
                                          limit) for _ in range(connections)))
    elapsed = time.monotonic() - started
    ordered = sorted(latencies) or [0.0]
    return {"url": url, "connections": connections, "requests": len(latencies), "errors": len(errors),
            "error_samples": sorted(set(errors))[:5], "seconds": round(elapsed, 2),
            "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds (unless --requests)")
    parser.add_argument("--requests", type=int, help="stop after this many requests in all")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.url, args.connections, args.duration, args.requests))))


if __name__ == "__main__":
    main()
