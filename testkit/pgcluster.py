"""The throwaway PostgreSQL server tests and benchmarks use: the release gate's own (deploy/pgcluster.py)."""

from deploy.pgcluster import PASSWORD, SUPERUSER, Cluster, binaries_missing, create_cluster

__all__ = ["PASSWORD", "SUPERUSER", "Cluster", "binaries_missing", "create_cluster"]
