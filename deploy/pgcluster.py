"""A throwaway PostgreSQL server: the release gate's, and the tests' and benchmarks' (testkit.pgcluster).

initdb refuses to run as root, so when we are root the cluster belongs to the
`postgres` user. It listens on 127.0.0.1 on a free port, with password
(scram) authentication so tests exercise real credentials.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .ports import free_port

SUPERUSER = "postgres"
PASSWORD = "test-password"  # noqa: S105 (a throwaway server on 127.0.0.1 that lives for one run)


def binaries_missing() -> str | None:
    for name in ("initdb", "pg_ctl", "postgres"):
        if shutil.which(name) is None:
            return f"PostgreSQL binary {name!r} is not on PATH"
    return None


@dataclass
class Cluster:
    directory: Path
    port: int
    owner: str | None  # the user the server runs as, when we are root

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{SUPERUSER}:{PASSWORD}@127.0.0.1:{self.port}/postgres"

    @property
    def pid(self) -> int:
        """The postmaster's process id (its backends are its children)."""
        return int((self.directory / "data" / "postmaster.pid").read_text().split()[0])

    def url_for(self, database: str) -> str:
        return self.url.rsplit("/", 1)[0] + "/" + database

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        command = list(argv)
        if self.owner:
            command = ["runuser", "-u", self.owner, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-l", str(self.directory / "server.log"),
                  "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", mode, "-w", "stop", check=False)

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


def create_cluster() -> Cluster:
    owner = SUPERUSER if os.geteuid() == 0 else None
    directory = Path(tempfile.mkdtemp(prefix="board-pg-"))
    if owner:
        user = pwd.getpwnam(owner)
        os.chown(directory, user.pw_uid, user.pw_gid)
    cluster = Cluster(directory, free_port(), owner)
    pwfile = directory / "pwfile"
    pwfile.write_text(PASSWORD + "\n")
    if owner:
        os.chown(pwfile, pwd.getpwnam(owner).pw_uid, -1)
    cluster._run("initdb", "-D", str(directory / "data"), "-U", SUPERUSER, "--pwfile", str(pwfile),
                 "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")
    # Throwaway data: durability off makes tests and seeding much faster.
    with open(directory / "data" / "postgresql.conf", "a") as conf:
        conf.write(
            f"port = {cluster.port}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{directory}'\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n"
        )
    cluster.start()
    return cluster
