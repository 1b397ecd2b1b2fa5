"""One local instance: a container holding what an EB Docker AL2023 host holds, driven from outside.

Everything a deployment runs (hooks, commands, `docker build`, nginx) runs in
here as root, against the host's engine through the mounted Docker socket.
Commands go through one session kept open in the instance (instance-image/agent):
a `docker exec` for each would cost about 0.06 s a step, which EB's engine, a
process on the host, does not spend. A command that finds the session busy (another
thread's) runs in a `docker exec` of its own, as does every command if the session
cannot be started.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import select
import subprocess
import tarfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .docker import address, docker
from .errors import LocalEBError

IMAGE_CONTEXT = Path(__file__).parent / "instance-image"
CONFIG_DIR = "/opt/elasticbeanstalk/config/local"
AGENT = "/opt/localeb/bin/agent"  # the session commands run through (instance-image/agent)
AGENT_GRACE = 30  # seconds the session may take beyond a command's own timeout to answer
SESSION_ENDED = 255  # the status of a command whose session ended before it answered (the instance stopped)


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
        self._agent: subprocess.Popen | None = None  # the command session, started at the first command
        self._lock = threading.Lock()  # held while a command runs through the session

    def run(self, script: str, env: dict[str, str] | None = None, workdir: str = "/var/app/staging",
            timeout: float = 900) -> Output:
        """Run a bash script in the instance as root; `env` values never reach a command line."""
        return self.exec(["bash", "-c", script], env=env, workdir=workdir, timeout=timeout)

    def exec(self, argv: list[str], env: dict[str, str] | None = None, workdir: str = "/var/app/staging",
             timeout: float = 900) -> Output:
        """Run `argv` in the instance as root with no shell in between (the platform engine execs hooks so)."""
        code, out, err = self._call(argv, env or {}, workdir, timeout)
        return Output(code, (out + err).decode(errors="replace"))

    def _pipe(self, data: bytes, *command: str) -> None:
        code, _, err = self._call(list(command), {}, "/", 300, data)
        if code != 0:
            raise LocalEBError(f"{self.name}: {' '.join(command)} failed: {err.decode(errors='replace')}")

    def close(self) -> None:
        """End the command session (the instance's removal ends it too)."""
        with self._lock:
            self._end_agent()

    # --- how a command reaches the instance ------------------------------------------------------------
    def _call(self, argv: list[str], env: dict[str, str], workdir: str, timeout: float,
              data: bytes | None = None) -> tuple[int, bytes, bytes]:
        """(exit status, stdout, stderr) of `argv` run in the instance; TimeoutExpired past `timeout`."""
        if self._lock.acquire(blocking=False):
            try:
                answer = self._ask_agent(argv, env, workdir, timeout, data)
            finally:
                self._lock.release()
            if answer is not None:
                return answer
        flags = ["-i"] * (data is not None) + ["-w", workdir] + [arg for name in env for arg in ("-e", name)]
        result = subprocess.run(["docker", "exec", *flags, self.name, *argv], input=data, capture_output=True,
                                timeout=timeout, env={**os.environ, **env})
        return result.returncode, result.stdout, result.stderr

    def _ask_agent(self, argv: list[str], env: dict[str, str], workdir: str, timeout: float,
                   data: bytes | None) -> tuple[int, bytes, bytes] | None:
        """The session's answer; None when the request could not be sent (the caller runs a `docker exec`)."""
        request = json.dumps({"argv": argv, "env": env, "cwd": workdir, "timeout": timeout,
                              "input": None if data is None else base64.b64encode(data).decode()}) + "\n"
        try:
            if self._agent is None or self._agent.poll() is not None:
                self._agent = subprocess.Popen(["docker", "exec", "-i", "-w", "/", self.name, AGENT],
                                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                               stderr=subprocess.DEVNULL, bufsize=0)
            self._agent.stdin.write(request.encode())
        except OSError:
            self._end_agent()
            return None
        line = self._read_line(timeout + AGENT_GRACE)
        if line is None or not line.endswith(b"\n"):  # hung, or ended (the instance stopped): not run again
            self._end_agent()
            if line is None:
                raise subprocess.TimeoutExpired(argv, timeout)
            return SESSION_ENDED, b"", f"{self.name}: the instance ended before the command did\n".encode()
        reply = json.loads(line)
        if reply.get("timeout"):
            raise subprocess.TimeoutExpired(argv, timeout)
        return reply["code"], base64.b64decode(reply["stdout"]), base64.b64decode(reply["stderr"])

    def _read_line(self, seconds: float) -> bytes | None:
        """The session's next line; what came before it ended, or None if no whole line came within `seconds`."""
        stream, line = self._agent.stdout, b""
        deadline = time.monotonic() + seconds
        while not line.endswith(b"\n"):
            if not select.select([stream], [], [], max(0.0, deadline - time.monotonic()))[0]:
                return None
            chunk = os.read(stream.fileno(), 1 << 16)
            if not chunk:
                break
            line += chunk
        return line

    def _end_agent(self) -> None:
        if self._agent is not None:
            self._agent.kill()
            self._agent.wait()
            self._agent.stdin.close()
            self._agent.stdout.close()
            self._agent = None

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
