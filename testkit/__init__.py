"""Helpers shared by the tests and the benchmarks: free ports, a throwaway PostgreSQL,
servers, Docker projects, a copy of the tree. Importable from the repo root, no path edits."""
