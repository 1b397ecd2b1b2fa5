"""One local instance: a container holding what an EB Docker AL2023 host holds, driven by `docker exec`.

Everything a deployment runs (hooks, commands, `docker build`, nginx) runs in
here as root, against the host's engine through the mounted Docker socket.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from .docker import address, docker
from .errors import LocalEBError

IMAGE_CONTEXT = Path(__file__).parent / "instance-image"
CONFIG_DIR = "/opt/elasticbeanstalk/config/local"


@dataclass
class Output:
    code: int
    text: str

    @property
    def ok(self) -> bool:
        return self.code == 0


def build_image(repository: str) -> str:
    """Build the instance image, tagged with its context's digest: checkouts of different versions sharing one
    engine never run each other's instance (BuildKit caches it: a rebuild of an unchanged context is instant)."""
    digest = hashlib.sha256()
    for path in sorted(IMAGE_CONTEXT.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + bytes([path.stat().st_mode & 0o111 != 0]))
    tag = f"{repository}:{digest.hexdigest()[:12]}"
    docker("build", "--quiet", "--tag", tag, str(IMAGE_CONTEXT), env={"DOCKER_BUILDKIT": "1"})
    return tag


def add_files(archive: tarfile.TarFile, files: dict[str, tuple[str, int]]) -> None:
    """Each `path: (content, mode)` as a file at that absolute path (owned by root when unpacked as root)."""
    for path, (content, mode) in files.items():
        data = content.encode()
        info = tarfile.TarInfo(path.lstrip("/"))
        info.size, info.mode = len(data), mode
        archive.addfile(info, io.BytesIO(data))


class Instance:
    def __init__(self, name: str, image: str, labels: dict[str, str], publish: list[str] | None = None,
                 volumes: list[str] | None = None):
        self.name = name
        self.id = "i-" + name.rsplit("-", 1)[-1]  # how events name it, like EB's instance ids
        label_args = [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]
        ports = [arg for port in publish or [] for arg in ("--publish", port)]
        docker("run", "--detach", "--init", "--name", name, *label_args, *ports,
               "--volume", "/var/run/docker.sock:/var/run/docker.sock", *(volumes or []), image)
        self.address = address(name)

    def run(self, script: str, env: dict[str, str] | None = None, workdir: str = "/var/app/staging",
            timeout: float = 900) -> Output:
        """Run a bash script in the instance as root; `env` values reach it by name only."""
        names = [arg for name in (env or {}) for arg in ("-e", name)]
        result = docker("exec", "-w", workdir, *names, self.name, "bash", "-c", script, check=False, env=env,
                        timeout=timeout)
        return Output(result.returncode, result.stdout + result.stderr)

    def exec(self, argv: list[str], env: dict[str, str] | None = None, workdir: str = "/var/app/staging",
             timeout: float = 900) -> Output:
        """Run `argv` in the instance as root with no shell in between (the platform engine execs hooks so)."""
        names = [arg for name in (env or {}) for arg in ("-e", name)]
        result = docker("exec", "-w", workdir, *names, self.name, *argv, check=False, env=env, timeout=timeout)
        return Output(result.returncode, result.stdout + result.stderr)

    def _pipe(self, data: bytes, *command: str) -> None:
        result = subprocess.run(["docker", "exec", "-i", self.name, *command], input=data, capture_output=True,
                                timeout=300)
        if result.returncode != 0:
            raise LocalEBError(f"{self.name}: {' '.join(command)} failed: {result.stderr.decode(errors='replace')}")

    def put_tree(self, source: Path, destination: str, files: dict[str, tuple[str, int]] | None = None) -> None:
        """Replace `destination` in the instance with the contents of `source`, modes kept; `files` (as for
        write_files) are written in the same exec."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            archive.add(source, arcname=destination.strip("/"))
            add_files(archive, files or {})
        self._pipe(buffer.getvalue(), "bash", "-c", 'rm -rf "$0" && tar -x -C /', destination)

    def write_file(self, path: str, content: str, mode: str = "644") -> None:
        self._pipe(content.encode(), "bash", "-c", f'mkdir -p "$(dirname "$0")" && cat > "$0" && chmod {mode} "$0"',
                   path)

    def write_files(self, files: dict[str, tuple[str, int]]) -> None:
        """Write each `path: (content, mode)` in one exec (a tar unpacked at the root), parents made as needed."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            add_files(archive, files)
        self._pipe(buffer.getvalue(), "tar", "-x", "--no-same-owner", "-C", "/")

    def append_file(self, path: str, content: str) -> None:
        self._pipe(content.encode(), "bash", "-c", 'cat >> "$0"', path)
