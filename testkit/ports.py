"""Free TCP ports on the loopback interface (deploy/ports.py, which the release gate uses too)."""

from deploy.ports import free_port

__all__ = ["free_port"]
