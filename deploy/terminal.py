"""The process and its terminal: output that survives a closed pipe, and SIGTERM turned into one line that
says what was left in flight (CI cancels a job with SIGINT, then SIGTERM)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager

_in_flight: list[str] = []


class Terminated(BaseException):
    """SIGTERM: a BaseException, so no `except Exception` on the way swallows it; `what` was in flight then."""

    def __init__(self, what: str | None):
        super().__init__(what)
        self.what = what


@contextmanager
def doing(what: str):
    """Name the operation EB runs on our behalf meanwhile (said if the process is terminated)."""
    _in_flight.append(what)
    try:
        yield
    finally:
        _in_flight.pop()


def in_flight() -> str | None:
    return _in_flight[-1] if _in_flight else None


class _ClosedPipeTolerant:
    """A text stream whose reader may go away (`status | head -1`): later output is dropped, the command still
    ends with its own exit code."""

    def __init__(self, stream):
        self._stream = stream

    def _drop_rest(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())
        os.close(devnull)

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._drop_rest()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._drop_rest()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _has_descriptor(stream) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _terminate(signum, frame) -> None:
    raise Terminated(in_flight())


@contextmanager
def prepared():
    """For one run of the command line: line-buffered output (piped, Python buffers whole blocks and a CI
    log would stay silent until exit), a closed stdout tolerated, SIGTERM raised as Terminated."""
    saved = sys.stdout, sys.stderr
    for stream in saved:
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True)
    if _has_descriptor(sys.stdout):
        sys.stdout = _ClosedPipeTolerant(sys.stdout)
    handler = None
    if threading.current_thread() is threading.main_thread():
        handler = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
        if handler is not None:
            signal.signal(signal.SIGTERM, handler)
