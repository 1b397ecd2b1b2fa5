"""The steps of "Python 3.12 running on 64bit Amazon Linux 2023" on one local instance (sources: docs/eb-platform.md).

No image: the platform installs requirements.txt into a virtualenv under
/var/app/venv (one per instance), runs the Procfile's processes from /var/app/current as the
`webapp` user with the environment properties as their environment, and its
nginx forwards to 127.0.0.1:8000 (or the PORT property). The order of the steps,
hooks, .ebextensions, nginx -t and the health check are the Engine's; this
engine replaces the platform's own parts.
A failure before FlipApplication leaves the running processes and nginx as they were (the venv is shared, as
on the platform: a failed deployment's requirements stay installed in it).
"""

from __future__ import annotations

import shlex
from pathlib import Path

from deploy.ebextensions import Extensions
from deploy.namespaces import APPLICATION_ENVIRONMENT, STATIC_FILES

from . import proxy
from .engine import APP_CURRENT, APP_STAGING, Engine, InstanceConfig, Staged, StepFailed
from .errors import LocalEBError
from .staging import bundle_extensions, procfile

VENV_ROOT = "/var/app/venv"
PIP_CACHE = "/root/.cache/pip"  # a volume shared by local instances: wheels are downloaded once
RUN_DIR = "/var/run/board-processes"
STOP_WAIT = 30  # seconds a process gets after SIGTERM (systemd stops it on the platform; its timeout is not documented)


def proxy_port(properties: dict[str, str]) -> int:
    """Where the Python platform's nginx forwards: the PORT property, else 8000."""
    value = (properties.get("PORT") or "").strip()
    if not value:
        return proxy.PYTHON_PORT
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise LocalEBError(f"the PORT property {value!r} is not a TCP port")
    return int(value)


class PythonEngine(Engine):
    """Engine with the Python platform's build, process and proxy steps in place of the Docker ones."""
    PROXY_STEP = "configure proxy server"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.venv: str | None = None  # the virtualenv the running processes use
        self.processes: dict[str, str] = {}

    # --- the Python platform's own parts of the Engine's steps ---------------------------------------------
    def _read_bundle(self, folder: Path, properties: dict[str, str]) -> Staged:
        extensions = bundle_extensions(folder)
        processes = procfile(folder)
        # A PORT that is no port fails here, before anything is installed.
        proxy_port({**extensions.options.get(APPLICATION_ENVIRONMENT, {}), **properties})
        self.log("Platform: Python 3.12 (Procfile: " + ", ".join(processes) + ")")
        return Staged(extensions, processes=processes)

    def _build_app(self, bundle_dir: Path, _staged: Staged, _config: InstanceConfig) -> str:
        """requirements.txt installed into the instance's one virtualenv, made at its first deployment (pip
        leaves what is already satisfied alone, so an unchanged requirements.txt installs in seconds)."""
        step = "InstallDependency"
        self.log(f"Executing instruction: {step}")
        venv = f"{VENV_ROOT}/staging-{self.instance.name.rsplit('-', 1)[-1]}"
        install = f"test -x {venv}/bin/python || python3 -m venv {venv}"
        if (bundle_dir / "requirements.txt").is_file():
            self.log("Installing dependencies with requirements.txt by using Pip")
            install += f"; {venv}/bin/pip install --disable-pip-version-check -r requirements.txt"
        self.sh(step, f"({install}) 2>&1", what=install, timeout=1200)
        return venv

    def _configure_proxy(self, folder: Path, extensions: Extensions, properties: dict[str, str]) -> int:
        """The platform's nginx configuration: `location /` to the PORT property's port, the static files."""
        try:
            port = proxy_port(properties)
        except LocalEBError as error:
            raise StepFailed(self.PROXY_STEP, str(error)) from None
        static = extensions.options.get(STATIC_FILES, {})
        self._put_proxy(lambda staging: proxy.stage_python(folder, staging, port, static, APP_CURRENT))
        return port

    def _replace_app(self, _bundle_dir: Path, staged: Staged, venv: str, environment: dict[str, str]) -> None:
        self._stop_processes()
        self.log("Executing instruction: FlipApplication")
        # The app belongs to webapp, as on the platform; nginx (static files) may read it.
        self.sh("FlipApplication", f"rm -rf {APP_CURRENT} && cp -a {APP_STAGING} {APP_CURRENT} && "
                f"chown -R webapp:webapp {APP_CURRENT} && chmod 755 {APP_CURRENT}", workdir="/")
        self.venv, self.processes = venv, staged.processes
        self._start_processes(environment)

    def _restart_app(self, _current: Path, environment: dict[str, str]) -> None:
        """The Procfile's processes restarted with the new properties."""
        self._stop_processes()
        self._start_processes(environment)

    def _upstream(self, _port: int) -> None:
        return None  # the application file staged with the proxy already names 127.0.0.1:PORT

    def _deployed(self) -> bool:
        return self.venv is not None

    def _start_processes(self, environment: dict[str, str]) -> None:
        """Each Procfile process as `webapp` from /var/app/current, the venv first on PATH, the properties (and
        secrets) as its environment, in a session of its own (its group is what a stop signals)."""
        self.log("Executing instruction: start application")
        for name, command in self.processes.items():
            log = f"/var/log/{name}.stdout.log"
            inner = f"export PATH={self.venv}/bin:/usr/local/bin:/usr/bin:/bin VIRTUAL_ENV={self.venv}; exec {command}"
            script = (f"mkdir -p {RUN_DIR} && touch {log} && chown webapp {log} || exit 1; "
                      f"setsid runuser -u webapp -- bash -c {shlex.quote(inner)} >>{log} 2>&1 </dev/null & "
                      f"echo $! > {RUN_DIR}/{name}.pid")
            self.sh("start application", script, env=environment, workdir=APP_CURRENT,
                    what=f"runuser -u webapp -- {command} (process {name}, in {APP_CURRENT})")

    def _stop_processes(self) -> None:
        for name in self.processes:
            pid = f"{RUN_DIR}/{name}.pid"
            self.sh("stop running app",
                    f"if [ -s {pid} ]; then group=$(cat {pid}); kill -TERM -- -$group 2>/dev/null || true; "
                    f"for _ in $(seq {STOP_WAIT * 5}); do kill -0 -- -$group 2>/dev/null || break; sleep 0.2; done; "
                    f"kill -KILL -- -$group 2>/dev/null || true; rm -f {pid}; fi", workdir="/",
                    what=f"stop process {name}")

    def _app_output(self) -> str:
        return self.instance.run("tail -n 30 /var/log/web.stdout.log", workdir="/").text



def pip_cache_volume() -> list[str]:
    """`docker run` arguments mounting the shared pip cache into a Python instance."""
    return ["--volume", f"board-local-pip-cache:{PIP_CACHE}"]

