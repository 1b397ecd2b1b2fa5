"""Free TCP ports on the loopback interface."""

import socket


def free_port() -> int:
    """A port nobody listens on now (the OS picks it; a race with another binder is unlikely)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
