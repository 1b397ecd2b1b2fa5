"""The platform's steps on one local instance, in the order EB runs them (docs/eb-platform.md has the sources).

The order is written once, in `_deploy` and `_configure`, for both platforms: the steps that differ are
methods, the Docker platform's here and the Python platform's in localeb/python.py.

Each step is logged as eb-engine.log logs it (also into the instance's
/var/log/eb-engine.log); hook and command output goes to /var/log/eb-hooks.log
and, when a step fails, into the error line. A failure before the container
switch leaves the running container and nginx as they were.
"""

from __future__ import annotations

import hashlib
import io
import json
import shlex
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from deploy.ebextensions import Command, Extensions
from deploy.namespaces import APPLICATION_ENVIRONMENT, DEFAULT_PROCESS, ENVIRONMENT_SECRETS

from . import proxy
from .balancer import PROCESS_DEFAULTS
from .errors import LocalEBError
from .instance import CONFIG_DIR, Instance
from .staging import DOCKERRUN_MODE, bundle_extensions, dockerrun, exposed_port, hooks, mode

APP_STAGING = "/var/app/staging"
APP_CURRENT = "/var/app/current"
PROXY_STAGING = "/var/proxy/staging/nginx"
# Where EB puts the deployment's version manifest (observed: docs/eb-platform.md row 15); the prebuild hook
# takes the version label from it.
VERSION_MANIFEST = "/opt/elasticbeanstalk/deployment/app_version_manifest.json"
# The platform's image tags (docs/eb-platform.md); locally under each instance's name (Engine.staging_tag).
STAGING_TAG = "aws_beanstalk/staging-app"
CURRENT_TAG = "aws_beanstalk/current-app"
RUN_HOOK = "/opt/localeb/bin/run-hook"  # execs a hook with no shell in between (instance-image/run-hook)
EXEC_FAILED = 126  # its exit status when the hook could not be executed at all
HEALTH_CHECK = "/opt/localeb/bin/health-check"  # asks nginx until the path answers (instance-image/health-check)
HEALTH_WAIT = 90  # seconds a new version gets to answer its health check through nginx


class StepFailed(Exception):
    def __init__(self, step: str, message: str, output: str = ""):
        super().__init__(message)
        self.step, self.message, self.output = step, message, output


@dataclass(frozen=True)
class InstanceConfig:
    """What the environment tells an instance's engine besides the bundle and the properties."""
    environment: str = "local"  # the environment's name, as get-config reports it
    app: str = "local"  # the application's name: the version manifest's key
    health_wait: float = HEALTH_WAIT  # seconds a new version gets to answer its health check through nginx
    label: str | None = None  # the version being deployed; None writes no version manifest
    storage: Callable[[str, str], bytes] | None = None  # reads an S3 object (bucket, key) as the instance would


@dataclass(frozen=True)
class Staged:
    """What StageApplication took from the bundle: its .ebextensions, and the platform's own reading of it."""
    extensions: Extensions
    mode: str = ""  # Docker: how the platform runs the bundle (a Dockerfile, or Dockerrun.aws.json's image)
    processes: dict[str, str] = field(default_factory=dict)  # Python: the Procfile's processes


@dataclass
class Outcome:
    """What one instance reports: EB's per-instance result."""
    instance: str
    ok: bool
    health: str = "Ok"  # Ok, Degraded (answers but not as expected), Severe (does not answer)
    step: str = ""
    message: str = ""
    output: str = ""
    log: list[str] = field(default_factory=list)


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y/%m/%d %H:%M:%S.%f")


class Engine:
    """The step runner for one instance; `deploy()` and `configure()` return an Outcome, never raise."""
    PROXY_STEP = "configure proxy"  # the platform's name for the step that stages the proxy configuration

    def __init__(self, instance: Instance, echo: Callable[[str], None] = print, owner: str = "local",
                 own_docker: bool = False):
        self.instance = instance
        self.owner = owner  # labels the app containers, so the environment can remove them
        self.echo = echo
        self.container: str | None = None  # the app container now serving
        self.image: str | None = None  # its image id
        self.address: str | None = None  # its address on the bridge
        self.deployments = 0
        self.lines: list[str] = []
        self.nginx_started = False
        # A new EC2 host's Docker holds no build cache and no image; `own_docker` starts an instance so (instances
        # share one engine, so only what the engine cannot share is per instance: see _build).
        self.own_docker = own_docker
        self.has_built = False  # an image was built here: later builds reuse this instance's cache
        self.pulled: set[str] = set()  # images this instance pulled

    @property
    def staging_tag(self) -> str:
        """The image a deployment builds or pulls, under this instance's name (instances share one engine)."""
        return f"{STAGING_TAG}:{self.instance.name}"

    @property
    def current_tag(self) -> str:
        """The image now serving, under this instance's name."""
        return f"{CURRENT_TAG}:{self.instance.name}"

    # --- logging -------------------------------------------------------------------------------
    def log(self, message: str, level: str = "INFO") -> None:
        line = f"{timestamp()} [{level}] {message}"
        self.lines.append(line)
        self.echo(f"{self.instance.id} {line}")

    def flush_log(self) -> None:
        if self.lines:
            self.instance.append_file("/var/log/eb-engine.log", "\n".join(self.lines) + "\n")
            self.lines.clear()

    def sh(self, step: str, script: str, env: dict | None = None, workdir: str = APP_STAGING,
           what: str | None = None, timeout: float = 900) -> str:
        self.log(f"Running command /bin/sh -c {what or script}")
        out = self.instance.run(script, env=env, workdir=workdir, timeout=timeout)
        if not out.ok:
            raise StepFailed(step, f"Command {what or script} failed with error exit status {out.code}", out.text)
        return out.text

    # --- the workflows ---------------------------------------------------------------------------
    def deploy(self, bundle_dir: Path, properties: dict[str, str], secrets: dict[str, str], leader: bool,
               config: InstanceConfig) -> Outcome:
        """An application deployment of the unzipped bundle in `bundle_dir`."""
        self.deployments += 1
        return self._guarded("app-deploy", lambda: self._deploy(bundle_dir, properties, secrets, leader, config))

    def configure(self, properties: dict[str, str], secrets: dict[str, str], config: InstanceConfig) -> Outcome:
        """A configuration deployment: same image, new properties; `.platform/confighooks/` instead of hooks."""
        with tempfile.TemporaryDirectory(prefix="eb-current-") as folder:
            return self._guarded("config-deploy", lambda: self._configure(Path(folder), properties, secrets, config))

    def _guarded(self, command: str, work) -> Outcome:
        outcome = Outcome(self.instance.id, ok=False)
        try:
            outcome.health = work()
            outcome.ok = True
            self.log(f"[{command}] Completed successfully.")
        except StepFailed as failure:
            detail = failure.output.strip()
            self.log(f"An error occurred during execution of command [{command}] - [{failure.step}]. "
                     f"Stop running the command. Error: {failure.message}"
                     + (f" Stderr:{detail[-3000:]}" if detail else ""), "ERROR")
            outcome.step, outcome.message, outcome.output = failure.step, failure.message, detail
        except LocalEBError as error:
            self.log(f"An error occurred during execution of command [{command}]. Error: {error}", "ERROR")
            outcome.step, outcome.message = command, str(error)
        outcome.log = list(self.lines)
        self.flush_log()
        return outcome

    def _deploy(self, bundle_dir: Path, properties, secrets, leader, config: InstanceConfig) -> str:
        """An application deployment's steps, on either platform (the platform's own parts are methods below)."""
        staged, properties = self._stage(bundle_dir, properties, config)
        extensions = staged.extensions
        secrets = self._prebuild(bundle_dir, extensions, secrets, leader)
        app = self._build_app(bundle_dir, staged, config)
        self.log(f"Executing instruction: {self.PROXY_STEP}")
        port = self._configure_proxy(bundle_dir, extensions, properties)
        self.log("Executing instruction: EbExtensionPostBuild")
        self._commands("EbExtensionPostBuild", extensions.container_commands, secrets, leader)
        self._hooks("RunAppDeployPreDeployHooks", bundle_dir, "hooks", "predeploy", secrets)
        self._test_proxy()
        self.log("Executing instruction: stop running app")
        self._replace_app(bundle_dir, staged, app, {**properties, **secrets})
        self._start_proxy(port)
        # prebuild and predeploy hooks run in the staging directory, postdeploy ones in the current one.
        self._hooks("RunAppDeployPostDeployHooks", bundle_dir, "hooks", "postdeploy", secrets, APP_CURRENT)
        return self._health(extensions, config)

    def _stage(self, bundle_dir: Path, properties: dict[str, str],
               config: InstanceConfig) -> tuple[Staged, dict[str, str]]:
        """StageApplication: what the platform reads from the bundle (a refusal fails the step), then the bundle
        copied to the staging directory, with the instance's configuration (get-config's answers, the version
        manifest) in the same exec. Returns the properties in force too."""
        step = "StageApplication"
        self.log(f"Executing instruction: {step}")
        try:
            staged = self._read_bundle(bundle_dir, properties)
        except LocalEBError as error:
            raise StepFailed(step, str(error)) from None
        properties = {**staged.extensions.options.get(APPLICATION_ENVIRONMENT, {}), **properties}
        self.instance.put_tree(bundle_dir, APP_STAGING,
                               self._config_files(properties, staged.extensions, config, manifest=True))
        return staged, properties

    def _build(self, step: str) -> str:
        tag = self.staging_tag
        # An instance with its own Docker builds its first image from nothing: --no-cache skips the engine's layer
        # cache and gives the Dockerfile's cache mounts fresh, empty volumes (BuildKit releases them).
        flags = "--no-cache " if self.own_docker and not self.has_built else ""
        built = self.sh(step, f"docker build {flags}--progress=plain --iidfile /tmp/staging-app.iid -t {tag} "
                        f"{APP_STAGING} 2>&1 && echo && cat /tmp/staging-app.iid",
                        what=f"docker build {flags}-t {tag} {APP_STAGING}", timeout=1800)
        self.has_built = True
        return built.strip().splitlines()[-1]

    def _pull(self, step: str, bundle_dir: Path, config: InstanceConfig) -> str:
        """Dockerrun.aws.json v1's Image: pulled (Update "false" skips the pull of an image already here), with
        the Authentication file's credentials for a private registry, then tagged as the staging image."""
        spec = dockerrun(bundle_dir)
        name = str(spec["Image"]["Name"]).strip()
        update = str(spec["Image"].get("Update", "true")).strip().lower() != "false"
        quoted, tag = shlex.quote(name), self.staging_tag
        config_dir = self._registry_credentials(step, spec.get("Authentication"), config)
        login = f"DOCKER_CONFIG={config_dir} " if config_dir else ""
        # On an instance with its own Docker, "on the instance" means pulled by it, not by another on the engine.
        here = name in self.pulled if self.own_docker else \
            self.instance.run(f"docker image inspect {quoted} >/dev/null 2>&1", workdir="/").ok
        pull = f"{login}docker pull {quoted} 2>&1 && " if update or not here else ""
        if not pull:
            self.log(f"Image {name} is on the instance and Image.Update is false: not pulled")
        # One exec for the pull, the tag and the id: each exec into the instance costs the deployment a tenth of
        # a second here, which EB's own steps do not.
        pulled = self.sh(step, f"{pull}docker tag {quoted} {tag} && docker image inspect --format '{{{{.Id}}}}' {tag}",
                         workdir="/", what=f"{'docker pull ' + name + ' && ' if pull else ''}docker tag {name} {tag}",
                         timeout=1800)
        self.pulled.add(name)
        return pulled.strip().splitlines()[-1]

    def _registry_credentials(self, step: str, authentication, config: InstanceConfig) -> str | None:
        """Authentication's S3 object, as a docker client configuration on the instance (its folder); both
        formats AWS's pages show are taken: a config.json with "auths", and the older .dockercfg map."""
        if not authentication:
            return None
        bucket, key = (authentication.get("Bucket"), authentication.get("Key")) \
            if isinstance(authentication, dict) else (None, None)
        if not bucket or not key:
            raise StepFailed(step, "Dockerrun.aws.json: Authentication needs Bucket and Key")
        reader = config.storage
        try:
            data = json.loads(reader(bucket, key)) if reader else None
        except Exception as error:  # whatever the store says, it is this step's failure
            raise StepFailed(step, f"could not read the registry credentials s3://{bucket}/{key}: {error}") from None
        if not isinstance(data, dict):
            raise StepFailed(step, f"could not read the registry credentials s3://{bucket}/{key}"
                             + ("" if reader else ": no S3 behind this instance"))
        folder = "/root/.eb-docker-auth"
        self.instance.write_file(f"{folder}/config.json", json.dumps(data if "auths" in data else {"auths": data}),
                                 "600")
        return folder

    def _prebuild(self, bundle_dir: Path, extensions: Extensions, secrets, leader) -> dict[str, str]:
        """What both platforms do between staging and their build: .ebextensions files and commands, then
        prebuild hooks. Returns the secrets in force."""
        secrets = self._secrets(extensions, secrets)
        step = "EbExtensionPreBuild"
        self.log(f"Executing instruction: {step}")
        self._files(step, extensions)
        self._commands(step, extensions.commands, secrets, leader)
        self._hooks("RunAppDeployPreBuildHooks", bundle_dir, "hooks", "prebuild", secrets)
        return secrets

    def _configure(self, current: Path, properties, secrets, config: InstanceConfig) -> str:
        """A configuration-only update: confighooks around a restart of what is deployed (both platforms)."""
        if not self._deployed():
            raise LocalEBError("no application version is deployed on this instance yet")
        extensions = bundle_extensions(self._pull_current(current))
        properties = {**extensions.options.get(APPLICATION_ENVIRONMENT, {}), **properties}
        self._write_config(properties, extensions, config)
        secrets = self._secrets(extensions, secrets)
        self._hooks("RunConfigDeployPreBuildHooks", current, "confighooks", "prebuild", secrets, APP_CURRENT)
        self._hooks("RunConfigDeployPreDeployHooks", current, "confighooks", "predeploy", secrets, APP_CURRENT)
        port = self._configure_proxy(current, extensions, properties)  # what is deployed, not a failed staging
        self._test_proxy()
        self.log("Executing instruction: stop running app")
        self._restart_app(current, {**properties, **secrets})
        self._start_proxy(port)
        self._hooks("RunConfigDeployPostDeployHooks", current, "confighooks", "postdeploy", secrets,
                    APP_CURRENT)
        return self._health(extensions, config)

    # --- the Docker platform's own parts (localeb/python.py has the Python platform's) -------------------
    def _read_bundle(self, folder: Path, _properties: dict[str, str]) -> Staged:
        chosen = mode(folder)
        self.log(f"Platform mode: {chosen}")
        if chosen.startswith("Docker Compose"):
            raise LocalEBError(f"{chosen}: Elastic Beanstalk would run `docker compose` instead of building the "
                               "Dockerfile; this bundle must not ship a compose file (check .ebignore)")
        return Staged(bundle_extensions(folder), mode=chosen)

    def _build_app(self, bundle_dir: Path, staged: Staged, config: InstanceConfig) -> str:
        """The image, by bundle kind: one named in Dockerrun.aws.json is pulled, a Dockerfile is built; either way
        it is tagged as the staging image the later steps (and hooks) use. Returns its id."""
        step = "Docker Specific Build Application"
        self.log(f"Executing instruction: {step}")
        return self._pull(step, bundle_dir, config) if staged.mode == DOCKERRUN_MODE else self._build(step)

    def _configure_proxy(self, folder: Path, _extensions: Extensions, _properties: dict[str, str]) -> int:
        """The platform's nginx configuration for the bundle in `folder`, staged; the port it forwards to."""
        port = exposed_port(folder)
        self._put_proxy(lambda staging: proxy.stage(folder, staging, self.address or "127.0.0.1", port))
        return port

    def _replace_app(self, bundle_dir: Path, _staged: Staged, image: str, environment: dict[str, str]) -> None:
        self._switch(image, f"{self.instance.name}-app-{self.deployments}", environment, self._mounts(bundle_dir),
                     then=f"docker tag {image} {self.current_tag} && "
                          f"rm -rf {APP_CURRENT} && cp -a {APP_STAGING} {APP_CURRENT}")

    def _restart_app(self, current: Path, environment: dict[str, str]) -> None:
        """The deployed image in a new container with the new properties."""
        self.deployments += 1
        self._switch(self.image, f"{self.instance.name}-app-{self.deployments}", environment, self._mounts(current))

    def _upstream(self, port: int) -> str | None:
        """The upstream file, written once the new container has its address."""
        return proxy.upstream(self.address, port)

    def _deployed(self) -> bool:
        return self.container is not None

    # --- steps -------------------------------------------------------------------------------------
    def _write_config(self, properties: dict, extensions: Extensions, config: InstanceConfig) -> None:
        self.instance.write_files(self._config_files(properties, extensions, config))

    def _config_files(self, properties: dict, extensions: Extensions, config: InstanceConfig,
                      manifest: bool = False) -> dict[str, tuple[str, int]]:
        """get-config's answers (and, for an application deployment, the version manifest)."""
        answers = {
            "environment": properties,
            "container": {"environment_name": config.environment, "instance_port": "80",
                          "app_staging_dir": APP_STAGING},
            "platformconfig": {"AppStagingDir": APP_STAGING + "/", "AppDeployDir": APP_CURRENT + "/",
                               "ProxyServer": "nginx"},
            "optionsettings": extensions.options,
        }
        files = {f"{CONFIG_DIR}/{kind}.json": (json.dumps(data), 0o644) for kind, data in answers.items()}
        if manifest:
            files.update(self._manifest(config))
        return files

    def _manifest(self, config: InstanceConfig) -> dict[str, tuple[str, int]]:
        """The version manifest as observed on instances: the label only as the key under the application's name
        in RuntimeSources (no top-level VersionLabel, the stricter reading). No label: no manifest."""
        label = config.label
        if not label:
            self.instance.run(f"rm -f {VERSION_MANIFEST}", workdir="/")
            return {}
        manifest = {"RuntimeSources": {config.app: {label: {"s3url": ""}}},
                    "DeploymentId": self.deployments, "Serial": self.deployments}
        return {VERSION_MANIFEST: (json.dumps(manifest), 0o644)}

    def _secrets(self, extensions: Extensions, given: dict[str, str]) -> dict[str, str]:
        """Values for `environmentsecrets` names: resolved by the caller (no Secrets Manager here)."""
        wanted = extensions.options.get(ENVIRONMENT_SECRETS, {})
        missing = sorted(set(wanted) - set(given))
        if missing:
            raise LocalEBError(f"cannot resolve the secrets {', '.join(missing)} (pass their values)")
        return {name: given[name] for name in wanted}

    def _files(self, step: str, extensions: Extensions) -> None:
        files = {}
        for path, spec in extensions.files.items():
            if "content" not in spec:
                raise StepFailed(step, f"files: {path}: only `content` is supported locally (no `source` URLs)")
            content = spec["content"] if isinstance(spec["content"], str) else json.dumps(spec["content"])
            files[path] = (content, int(str(spec.get("mode", "000644"))[-3:], 8))
        if files:
            self.instance.write_files(files)
        for path in files:
            self.log(f"Wrote file {path}")

    def _commands(self, step: str, commands: list[Command], secrets: dict, leader: bool) -> None:
        for command in commands:
            if command.leader_only and not leader:
                self.log(f"Skipping {command.name}: leader_only and this is not the leader instance")
                continue
            if command.test and not self.instance.run(command.test, env=secrets).ok:
                self.log(f"Skipping {command.name}: its test returned non-zero")
                continue
            script = command.command if isinstance(command.command, str) else shlex.join(command.command)
            self.log(f"Command {command.name} ({step})")
            out = self.instance.run(script, env={**secrets, **command.env}, workdir=command.cwd or APP_STAGING)
            self._append_hooks_log(out.text)
            if not out.ok and not command.ignore_errors:
                raise StepFailed(step, f"Command {command.name} failed with exit status {out.code}", out.text)

    def _hooks(self, step: str, bundle_dir: Path, kind: str, stage: str, secrets: dict,
               workdir: str = APP_STAGING) -> None:
        self.log(f"Executing instruction: {step}")
        found = hooks(bundle_dir, kind, stage)
        if not found:
            self.log(f"The dir .platform/{kind}/{stage}/ does not exist or is empty")
        for path in found:
            relative = path.relative_to(bundle_dir).as_posix()
            self.log(f"Running platform hook: {relative}")
            out = self.instance.exec([RUN_HOOK, relative], env=secrets, workdir=workdir)  # it keeps eb-hooks.log
            reason = out.text.strip().splitlines()[-1] if out.text.strip() else ""
            if out.code == EXEC_FAILED and reason.startswith(f"fork/exec {relative}: "):
                raise StepFailed(step, f"Command {relative} failed with error {reason}", out.text)
            if not out.ok:
                raise StepFailed(step, f"Command {relative} failed with error exit status {out.code}", out.text)

    def _append_hooks_log(self, text: str) -> None:
        if text:
            self.instance.append_file("/var/log/eb-hooks.log", text if text.endswith("\n") else text + "\n")

    def _put_proxy(self, write: Callable[[Path], object]) -> None:
        """The proxy configuration `write` makes in a folder, as the instance's staged one."""
        with tempfile.TemporaryDirectory() as folder:
            write(Path(folder))
            self.instance.put_tree(Path(folder), PROXY_STAGING)

    def _test_proxy(self) -> None:
        self.log("Executing instruction: start proxy with new configuration")
        self.sh("start proxy with new configuration", f"nginx -t -c {PROXY_STAGING}/nginx.conf 2>&1",
                workdir="/")

    def _mounts(self, staging: Path) -> str:
        """Dockerrun.aws.json v1's Volumes (HostDirectory → ContainerDirectory) and Logging (the container's log
        folder, which EB maps to /var/log/eb-docker/containers/eb-current-app). The instance shares the engine
        with the user's machine, so a host folder here is a named volume of this instance: it outlives
        deployments as the EC2 host's folder does, and goes when the environment stops."""
        spec = dockerrun(staging)
        pairs = [(str(v.get("HostDirectory", "")), str(v.get("ContainerDirectory", "")))
                 for v in spec.get("Volumes") or [] if isinstance(v, dict)]
        if spec.get("Logging"):
            pairs.append(("/var/log/eb-docker/containers/eb-current-app", str(spec["Logging"])))
        mounts = []
        for host, inside in pairs:
            if not host.startswith("/") or not inside.startswith("/"):
                raise LocalEBError(f"Dockerrun.aws.json: volume {host!r} → {inside!r}: both must be absolute paths")
            volume = f"{self.instance.name}-{hashlib.sha256(host.encode()).hexdigest()[:12]}"
            self.instance.run(f"docker volume create --label board.local.app={self.owner} {volume} >/dev/null",
                              workdir="/")
            mounts.append(f"--volume {volume}:{shlex.quote(inside)}")
        return "".join(mount + " " for mount in mounts)

    def _switch(self, image: str, name: str, properties: dict[str, str], mounts: str = "", then: str = "") -> None:
        """Stop the running container, start `image` with the properties (and secrets) as its environment and
        `mounts`, then run `then` (the platform's bookkeeping) in the same exec."""
        if self.container:
            # Docker's own stop grace period: EB documents none, so the app must finish within the shortest.
            self.sh("stop running app", f"docker stop {self.container} >/dev/null && "
                    f"docker rm {self.container} >/dev/null", workdir="/")
        self.log("Executing instruction: Docker Specific Start App")
        names = " ".join(f"-e {shlex.quote(key)}" for key in properties)
        started = self.sh("Docker Specific Start App",
                          f"docker run --detach --name {name} --label board.local.app={self.owner} {mounts}{names} "
                          f"{image} >/dev/null && {then + ' && ' if then else ''}"
                          f"docker inspect --format '{{{{.NetworkSettings.IPAddress}}}}' {name}",
                          env=properties, workdir="/",
                          what=f"docker run -d --name {name} --env <environment properties> {image}")
        self.container, self.image, self.address = name, image, started.strip().splitlines()[-1]

    def _start_proxy(self, port: int) -> None:
        self.log("Executing instruction: start proxy with new configuration")
        upstream = self._upstream(port)
        write = f'printf "%s" "$UPSTREAM" > {PROXY_STAGING}/{proxy.UPSTREAM_FILE} && ' if upstream else ""
        action = "nginx -s reload" if self.nginx_started else "nginx"
        self.sh("start proxy with new configuration",
                f"{write}nginx -t -c {PROXY_STAGING}/nginx.conf 2>&1 && rm -rf /etc/nginx/conf.d && "
                f"cp -a {PROXY_STAGING}/. /etc/nginx/ && {action}", env={"UPSTREAM": upstream or ""}, workdir="/",
                what=f"nginx -t, then copy {PROXY_STAGING} to /etc/nginx and {action}")
        self.nginx_started = True

    def _app_output(self) -> str:
        return self.instance.run(f"docker logs --tail 30 {self.container} 2>&1", workdir="/").text

    def _pull_current(self, destination: Path) -> Path:
        """The deployed bundle as the instance holds it (/var/app/current), for a configuration deployment."""
        data = subprocess.run(["docker", "exec", self.instance.name, "tar", "-c", "-C", APP_CURRENT, "."],
                              capture_output=True, check=True, timeout=120).stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            archive.extractall(destination, filter="tar")
        return destination

    def _health(self, extensions: Extensions, config: InstanceConfig) -> str:
        """The load balancer's check, through nginx: Ok when HealthCheckPath answers MatcherHTTPCode."""
        process = {**PROCESS_DEFAULTS, **extensions.options.get(DEFAULT_PROCESS, {})}
        path, expected = process["HealthCheckPath"], process["MatcherHTTPCode"]
        wait = config.health_wait
        self.log(f"Executing instruction: health check {path} through nginx (expect {expected})")
        answer = self.instance.exec([HEALTH_CHECK, path, expected, str(wait)], workdir="/", timeout=wait + 30).text
        code = answer.strip().splitlines()[-1] if answer.strip() else ""
        if code == expected:
            self.log(f"Health check {path}: {code}: Ok")
            return "Ok"
        # nginx's own log says why it could not reach the app (refused, timed out, which address).
        proxy_errors = self.instance.run("tail -n 5 /var/log/nginx/error.log 2>/dev/null", workdir="/").text
        self.log(f"Health check {path} answered {code or 'nothing'} (expected {expected}); the app's output:\n"
                 f"{self._app_output().strip()}\nnginx's error log:\n{proxy_errors.strip()}", "WARN")
        return "Degraded" if code and code != "0" else "Severe"
