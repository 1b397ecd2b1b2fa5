"""Elastic Beanstalk for moto, behaving like the real service where deploys care.

Stock moto 5.2 knows applications and static environments only. Importing this
module adds, to moto's own EB backend and response classes (so it serves both
`mock_aws` and `ThreadedMotoServer`): storage location, application versions
(checked against S3), update_environment with Updating → Ready and health
Grey → Green after `delay` seconds, events with timestamps and request ids and
honoured filters, environment health, configuration settings, CNAME swap,
termination, lifecycle policy (applied on each new version, as EB does), DNS
check, tags on application versions, instance health, AbortEnvironmentUpdate.
Versions created with Process=True are PROCESSING for `processing` seconds,
then PROCESSED, or FAILED (with an application event naming the bad file) when
an `.ebextensions/*.config` is not YAML (processing validates configuration
files only); UpdateEnvironment refuses a version that is not processed.

Fault knobs: `mark_bad(label)` makes a version fail on the instances (EB's
failure events, which end `eb deploy`) and turn its environment Red, to
exercise rollbacks; `keep_out(label)` fails its deployment with the environment
left on its previous version (Immutable); `health_after(label, (seconds, status), ...)` scripts the
enhanced health a version shows once deployed (Warning at once, Degraded a
while after Ok); `throttle(action, times)` refuses the next calls of an action
with a Throttling error before they take effect, as AWS does; `set_delay` and
`set_processing` stretch updates and version processing; `refuse(action, times,
code, message)` answers the next calls with any other error.

Option settings follow EB's precedence and checks (rules in
eb_options.py): configuration settings report the values in force (API, then the
running version's .ebextensions, then defaults); a launch creates the stack's
security groups, CloudWatch log groups when streaming, and one instance for
`eb health`, and fails as EB does when RDS refuses the database's class.

`attach(env_name, fleet)` puts a started `localeb.Fleet` behind an
environment: then create_environment/update_environment with a version really
deploy that version's bundle (from moto's S3) on the local instances, an
update with option settings only is a configuration deployment, and the
environment stays Updating until the instances are done; its events, Health and
HealthStatus are the deployment's, as EB reports them. The fleet's PostgreSQL
stands in for the database EB creates with an environment: its `RDS_*` reach
the instances only when the environment's options ask for one
(`aws:rds:dbinstance`, what `eb create --database` sends), as EB sets `RDS_*`
only then; attaching takes them out of the fleet's own defaults.

It lives outside any `moto*` module on purpose: moto's error serializer
mishandles exception classes defined in modules whose names start with "moto".
"""

from __future__ import annotations

import io
import re
import tempfile
import threading
import time
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import yaml
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult
from moto.elasticbeanstalk import responses as eb_responses
from moto.elasticbeanstalk.models import EBBackend, Environment
from moto.elasticbeanstalk.responses import EBResponse
from moto.s3.models import s3_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.ssm.models import ssm_backends

from deploy.namespaces import (
    APPLICATION_ENVIRONMENT,
    AUTOSCALING_GROUP,
    ENVIRONMENT_SECRETS,
    ENVIRONMENT_SETTINGS,
    LOG_STREAMING,
    RDS_DATABASE,
)

from . import eb_options
from .fleet import database_url

DOCKER_STACKS = ["64bit Amazon Linux 2023 v4.3.0 running Docker", "64bit Amazon Linux 2023 v4.10.0 running Docker",
                 "64bit Amazon Linux 2 v4.1.0 running Docker"]
PYTHON_STACKS = ["64bit Amazon Linux 2023 v4.3.0 running Python 3.12",
                 "64bit Amazon Linux 2023 v4.10.0 running Python 3.12",
                 "64bit Amazon Linux 2023 v4.11.0 running Python 3.11"]
_lock = threading.RLock()
settings = {"delay": 0.2, "processing": None}  # processing None: as long as `delay`
bad_versions: set[str] = set()
kept_out: set[str] = set()  # versions whose deployment fails with the environment kept on its old version
throttled: dict[str, int] = {}  # action -> calls still to refuse
refusals: dict[str, list] = {}  # action -> [calls still to refuse, error code, message]
health_scripts: dict[str, list[tuple[float, str]]] = {}  # label -> (seconds after the previous step, status)
COLOURS = {"Ok": "Green", "Info": "Green", "Warning": "Yellow", "Degraded": "Red", "Severe": "Red"}
CAUSES = {"Warning": "Impaired services on 1 out of 1 instance. 4.0 % of the requests are failing with HTTP 5xx.",
          "Degraded": "Impaired services on 1 out of 1 instance. 25.0 % of the requests are failing with HTTP 5xx.",
          "Severe": "100.0 % of the requests are failing with HTTP 5xx."}
local_fleets: dict[str, object] = {}  # environment name -> the localeb.Fleet that really runs it
# Set by `python -m localeb serve`: (environment name, platform, instance count) -> a started Fleet, for
# environments that have none attached when a version is first deployed to them.
launchers: list = []
launched: set[str] = set()  # environments whose fleet came from the launcher: terminating removes it
stand_ins: dict[int, dict[str, str]] = {}  # id of an attached fleet -> the RDS_* of its PostgreSQL stand-in


class InvalidParameterValue(ServiceException):
    code = "InvalidParameterValue"


class InvalidParameterCombination(ServiceException):
    code = "InvalidParameterCombination"


class TooManyApplicationVersions(ServiceException):
    code = "TooManyApplicationVersionsException"


def set_delay(seconds: float) -> None:
    settings["delay"] = seconds


def mark_bad(label: str) -> None:
    bad_versions.add(label)


def keep_out(label: str) -> None:
    """Deploying `label` fails and the environment stays on its previous version, as Immutable deploys do."""
    kept_out.add(label)


def set_processing(seconds: float) -> None:
    settings["processing"] = seconds


def throttle(action: str, times: int) -> None:
    throttled[action] = times


def refuse(action: str, times: int, code: str, message: str) -> None:
    """Refuse the next `times` calls of `action` with this error (e.g. IAM not yet consistent)."""
    refusals[action] = [times, code, message]


def health_after(label: str, *steps: tuple[float, str]) -> None:
    """Once `label` is deployed, its health goes through `steps`: (seconds after the previous step, status)."""
    health_scripts[label] = list(steps)


def attach(env_name: str, fleet) -> None:
    """Run `env_name` (existing or not yet created) on a started fleet; its stand-in is RDS only on request."""
    stand_in = {name: fleet.defaults.pop(name) for name in list(fleet.defaults) if name.startswith("RDS_")}
    stand_ins.setdefault(id(fleet), stand_in)
    local_fleets[env_name] = fleet


def stand_in_rds(fleet) -> dict[str, str]:
    """The RDS_* of a fleet's PostgreSQL stand-in (empty when it started none)."""
    return stand_ins.get(id(fleet)) or {name: value for name, value in fleet.defaults.items()
                                        if name.startswith("RDS_")}


def detach(env_name: str) -> None:
    local_fleets.pop(env_name, None)


def launch_fleets(launcher) -> None:
    """Give every environment without an attached fleet one from `launcher` when a version first deploys to it."""
    launchers[:] = [launcher]


def fleet_for(backend, env: Environment):
    """The fleet running `env`: the attached one, or a new one from the launcher (None: the simulated path)."""
    fleet = local_fleets.get(env.environment_name)
    if fleet is None and launchers:
        platform = "python" if "Python" in (env.solution_stack_name or "") else "docker"
        in_force = dict(eb_options.effective(extra(backend).settings.get((env.application_name, env.environment_name),
                                                                         []), file_settings(backend, env)))
        single = in_force.get((ENVIRONMENT_SETTINGS, "EnvironmentType")) == "SingleInstance"
        count = 1 if single else int(in_force.get((AUTOSCALING_GROUP, "MinSize")) or 1)
        fleet = launchers[0](env.environment_name, platform, count)
        attach(env.environment_name, fleet)
        launched.add(env.environment_name)
    return fleet


def stand_in_database_url(fleet) -> str:
    """The URL of a fleet's PostgreSQL stand-in, for `provision --database-url` (moto's RDS serves no SQL)."""
    return database_url(stand_in_rds(fleet))


def reset() -> None:
    local_fleets.clear()
    launchers.clear()
    launched.clear()
    stand_ins.clear()
    bad_versions.clear()
    kept_out.clear()
    throttled.clear()
    refusals.clear()
    health_scripts.clear()
    settings.update(delay=0.2, processing=None)


def now() -> datetime:
    return datetime.now(UTC)


class Extra:
    """What the extension keeps per backend (region and account)."""

    def __init__(self):
        self.versions: dict[tuple[str, str], dict] = {}  # (app, label) -> version
        self.events: list[dict] = []
        self.lifecycle: dict[str, dict] = {}
        self.settings: dict[tuple[str, str], list[dict]] = {}
        self.processing: dict[tuple[str, str], tuple[float, str | None]] = {}  # -> (done at, failure or None)
        self.tags: dict[str, dict[str, str]] = {}  # application version ARN -> tags


def extra(backend: EBBackend) -> Extra:
    with _lock:
        if "_board_extra" not in backend.__dict__:
            backend.__dict__["_board_extra"] = Extra()
        return backend.__dict__["_board_extra"]


def record(backend, app: str, env: str | None, message: str, request_id: str, severity: str = "INFO",
           label: str | None = None) -> None:
    extra(backend).events.append({"EventDate": now(), "Message": message, "ApplicationName": app,
                                  "EnvironmentName": env, "VersionLabel": label, "RequestId": request_id,
                                  "Severity": severity})


def schedule(env: Environment, after: float, finish) -> None:
    env._board_pending = (time.monotonic() + after, finish)


def advance(backend: EBBackend) -> None:
    """Apply transitions whose time has come (checked on every request)."""
    with _lock:
        for key, (done_at, failure) in list(extra(backend).processing.items()):
            if time.monotonic() >= done_at:
                del extra(backend).processing[key]
                finish_processing(backend, *key, failure)
        for app in list(backend.applications.values()):
            for env in list(app.environments.values()):
                pending = getattr(env, "_board_pending", None)
                if pending and time.monotonic() >= pending[0]:
                    env._board_pending = None
                    pending[1]()


def settle_health(backend, env: Environment, label: str | None, request_id: str, what: str) -> None:
    env.status = "Ready"
    env.date_updated = now()
    env.abortable_operation_in_progress = False
    app = env.application_name
    if label and label in bad_versions:
        env.health, env.health_status = "Red", "Severe"
        env._board_causes = [CAUSES["Severe"]]
        record(backend, app, env.environment_name, "Instance deployment failed. For details, see 'eb-engine.log'.",
               request_id, "ERROR", label)
        ids = [instance["InstanceId"] for instance in instances(env, backend)]
        for instance in ids:
            record(backend, app, env.environment_name, f"[Instance: {instance}] Command failed on instance. Return "
                   "code: 1 Output: Engine execution has encountered an error.", request_id, "ERROR", label)
        record_failed_deployment(backend, env, label, request_id, ids, len(ids))
        record(backend, app, env.environment_name, "Environment health has transitioned from Ok to Severe. "
               "100.0 % of the requests are failing with HTTP 5xx.", request_id, "WARN", label)
        return
    env.health, env.health_status = "Green", "Ok"
    env._board_causes = []
    record(backend, app, env.environment_name, f"{what} completed successfully.", request_id, "INFO", label)
    follow_script(backend, env, list(health_scripts.get(label, [])), request_id)


def record_failed_deployment(backend, env: Environment, label: str | None, request_id: str, failed: list[str],
                             ran_on: int, configuration: bool = False) -> None:
    """The events closing a deployment the instances failed, as EB records them: the command's summary, the abort,
    then EB's verdict, the event the EB CLI stops at, failing (commonops._raise_if_error_event)."""
    app, name = env.application_name, env.environment_name
    record(backend, app, name, f"Command execution completed on all instances. Summary: [Successful: "
           f"{ran_on - len(failed)}, Failed: {len(failed)}].", request_id, "INFO", label)
    record(backend, app, name, f"Unsuccessful command execution on instance id(s) '{','.join(failed)}'. Aborting "
           "the operation.", request_id, "ERROR", label)
    record_verdict(backend, env, label, request_id, configuration)


def record_verdict(backend, env: Environment, label: str | None, request_id: str, configuration: bool) -> None:
    """EB's closing events of a failed deployment; `eb deploy` stops at the last one, failing."""
    app, name = env.application_name, env.environment_name
    if configuration:
        record(backend, app, name, "Failed to deploy configuration.", request_id, "ERROR", label)
        return
    # Not EB's wording: `python -m deploy` names the version it reports as failed from this event.
    record(backend, app, name, f"Failed to deploy application version {label}.", request_id, "ERROR", label)
    record(backend, app, name, "Failed to deploy application.", request_id, "ERROR", label)


def follow_script(backend, env: Environment, steps: list[tuple[float, str]], request_id: str) -> None:
    """The version's scripted health, one step at a time; a later update replaces the pending step."""
    if not steps:
        return
    after, status = steps[0]

    def step():
        before = env.health_status
        env.health, env.health_status = COLOURS[status], status
        env._board_causes = [CAUSES[status]] if status in CAUSES else []
        severity = "INFO" if status in ("Ok", "Info") else "WARN"
        record(backend, env.application_name, env.environment_name,
               f"Environment health has transitioned from {before} to {status}. {' '.join(env._board_causes)}".strip(),
               request_id, severity)
        follow_script(backend, env, steps[1:], request_id)

    if after <= 0:
        step()
    else:
        schedule(env, after, step)


def deploy_step(backend, env: Environment, label: str | None, request_id: str) -> None:
    """What the instances do with the version (here: nothing but a verdict); the one place a real
    instance (localeb) would plug in: run the bundle, then settle health from its outcome."""
    if label in kept_out:  # an Immutable deployment whose new instances failed: the old ones stay
        record(backend, env.application_name, env.environment_name, f"Failed to deploy application version "
               f"{label}; the environment keeps version {env.version_label}.", request_id, "ERROR", label)
        label = env.version_label
    env.version_label = label
    settle_health(backend, env, label, request_id, "Environment update")


def bundle_problem(data: bytes) -> str | None:
    """Why EB's processing would reject this bundle (None when it would not)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return "the source bundle is not a valid zip file"
    names = set(archive.namelist())
    for name in sorted(names):
        if name.startswith(".ebextensions/") and name.endswith(".config"):
            try:
                yaml.safe_load(archive.read(name))
            except yaml.YAMLError as error:
                return f"{name} is not valid YAML or JSON: {str(error).splitlines()[0]}"
    # Processing validates configuration files only (CreateApplicationVersion's `Process`); a bundle the
    # platform cannot run (no Dockerfile on Docker) fails at deployment, on the instance.
    return None


def finish_processing(backend, app: str, label: str, failure: str | None) -> None:
    version = extra(backend).versions.get((app, label))
    if version is None:
        return
    version["Status"], version["DateUpdated"] = ("FAILED" if failure else "PROCESSED"), now()
    if failure:
        record(backend, app, None, f"Unable to process application version {label}: {failure}", str(uuid.uuid4()),
               "ERROR", label)


def apply_lifecycle(backend, app: str) -> None:
    """EB applies the MaxCountRule whenever a version is created: oldest versions no environment runs go
    first, their S3 objects too when DeleteSourceFromS3 says so."""
    rule = (extra(backend).lifecycle.get(app, {}).get("VersionLifecycleConfig") or {}).get("MaxCountRule") or {}
    if str(rule.get("Enabled")).lower() != "true":
        return
    versions = sorted((v for (a, _), v in extra(backend).versions.items() if a == app), key=lambda v: v["DateCreated"])
    in_use = {e.version_label for e in backend.applications[app].environments.values() if e.status != "Terminated"}
    excess = len(versions) - int(rule.get("MaxCount", 200))
    for version in [v for v in versions if v["VersionLabel"] not in in_use][:max(excess, 0)]:
        if str(rule.get("DeleteSourceFromS3")).lower() == "true":
            delete_source(backend, version)
        del extra(backend).versions[(app, version["VersionLabel"])]


def delete_source(backend, version: dict) -> None:
    s3 = s3_backends[backend.account_id]["global"]
    source = version["SourceBundle"]
    if source["S3Key"] in s3.buckets[source["S3Bucket"]].keys:
        s3.delete_object(source["S3Bucket"], source["S3Key"])


def causes(env: Environment) -> list[str]:
    if env.health == "Red" and not getattr(env, "_board_causes", None):
        return [CAUSES["Severe"]]
    return list(getattr(env, "_board_causes", None) or [])


def resolve_secret(backend, arn: str) -> str | None:
    """The value behind an SSM parameter or Secrets Manager ARN in moto, None when there is none."""
    try:
        if ":ssm:" in arn:
            parameter = ssm_backends[backend.account_id][backend.region_name].get_parameter(
                "/" + arn.split(":parameter/", 1)[1].lstrip("/"))
            return parameter.decrypt(parameter.value) if parameter else None
        if ":secretsmanager:" in arn:
            return secretsmanager_backends[backend.account_id][backend.region_name].get_secret_value(
                arn, None, None).get("SecretString")
    except Exception:  # unresolvable: EB would fail the deploy, and so do the instances
        return None
    return None


def deploy_locally(backend, env: Environment, label: str | None, request_id: str, version_changes: bool,
                   creating: bool = False) -> bool:
    """Run the update on the attached local instances, in the background as EB does; False when none is attached.
    Creating, it ends with the launch's closing event, which `eb create` waits for."""
    if env.environment_name not in local_fleets and not launchers:
        return False
    app, name = env.application_name, env.environment_name
    options = extra(backend).settings.get((app, name), [])
    # EB sets RDS_* on the instances of an environment that has its own database; properties still win.
    coupled = any(namespace == RDS_DATABASE for namespace, _ in eb_options.effective(options, file_settings(
        backend, env)))
    # EB resolves environmentsecrets (SSM parameters, Secrets Manager secrets) when it deploys; here from moto.
    secrets = {option["OptionName"]: value for option in options if option["Namespace"] == ENVIRONMENT_SECRETS
               and (value := resolve_secret(backend, str(option.get("Value", "")))) is not None}

    def work():
        result, failure, fleet = None, None, None
        try:
            fleet = fleet_for(backend, env)
            properties = dict(stand_in_rds(fleet)) if coupled else {}
            properties.update({option["OptionName"]: str(option.get("Value", "")) for option in options
                               if option["Namespace"] == APPLICATION_ENVIRONMENT})
            properties.update(secrets)
            # The API's option settings (deployment policy, batch size, health check) win over the bundle's.
            settings: dict[str, dict[str, str]] = {}
            for option in options:
                settings.setdefault(option["Namespace"], {})[option["OptionName"]] = str(option.get("Value", ""))
            if version_changes:
                source = extra(backend).versions[(app, label)]["SourceBundle"]
                s3 = s3_backends[backend.account_id]["global"]
                key = s3.get_object(source["S3Bucket"], source["S3Key"])
                with tempfile.TemporaryDirectory() as folder:
                    bundle = Path(folder) / "bundle.zip"
                    bundle.write_bytes(key.value)
                    result = fleet.deploy(bundle, properties=properties, label=label, options=settings,
                                          storage=lambda bucket, name: s3.get_object(bucket, name).value)
            else:
                result = fleet.configure(properties, options=settings)
        except Exception as error:  # reported as EB reports an engine failure
            failure = f"Instance deployment failed: {error}"
        with _lock:
            env.version_label = label
            env.status, env.abortable_operation_in_progress, env.date_updated = "Ready", False, now()
            if result is None:
                env.health, env.health_status = "Red", "Severe"
                record(backend, app, name, failure, request_id, "ERROR", label)
                ids = [engine.instance.id for engine in fleet.engines] if fleet else []
                record_failed_deployment(backend, env, label, request_id, ids, len(ids), not version_changes)
            else:
                env.health, env.health_status = result.health, result.health_status
                failed = [outcome.instance for outcome in result.outcomes if not outcome.ok]
                # A failed command, or a health check failed after the commands, ends as EB ends it, not with
                # the fleet's own closing line.
                for event in result.events[1:-1] if failed or result.unhealthy else result.events[1:]:
                    record(backend, app, name, event.message, request_id, event.severity, label)
                if failed:
                    record_failed_deployment(backend, env, label, request_id, failed, len(result.outcomes),
                                             not version_changes)
                elif result.unhealthy:  # the rollout's abort event is in; EB's verdict closes it
                    record_verdict(backend, env, label, request_id, not version_changes)
                elif not result.ok and version_changes:  # deployed, but the health check does not answer
                    record(backend, app, name, f"Failed to deploy application version {label}.", request_id,
                           "ERROR", label)
            if creating and result is not None and result.ok:
                record(backend, app, name, f"Successfully launched environment: {name}", request_id, label=label)
            elif creating:
                record(backend, app, name, "Create environment operation is complete, but with errors. For more "
                       "information, see troubleshooting documentation.", request_id, "ERROR", label)

    threading.Thread(target=work, name=f"local-eb-{name}", daemon=True).start()
    return True


def error_response(status: int, code: str, message: str) -> tuple[int, dict, str]:
    body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
    return status, {"status": str(status), "Content-Type": "text/xml"}, body


def environment_dict(env: Environment) -> dict:
    return {"EnvironmentName": env.environment_name, "EnvironmentId": env.environment_id,
            "ApplicationName": env.application_name, "VersionLabel": env.version_label,
            "SolutionStackName": env.solution_stack_name, "EndpointURL": env.endpoint_url, "CNAME": env.cname,
            "DateCreated": env.date_created, "DateUpdated": env.date_updated, "Status": env.status,
            "AbortableOperationInProgress": env.abortable_operation_in_progress, "Health": env.health,
            "HealthStatus": env.health_status, "Tier": env.tier, "EnvironmentArn": env.environment_arn,
            "EnvironmentLinks": [], "PlatformArn": getattr(env, "_board_platform_arn", None)}


class Extension:
    """Methods added to moto's EBResponse (self is the response object)."""

    # -- plumbing ---------------------------------------------------------------------------------------------
    def _backend(self) -> EBBackend:
        backend = self.elasticbeanstalk_backend
        advance(backend)
        return backend

    def _new_request_id(self) -> str:
        self._board_request_id = str(uuid.uuid4())
        return self._board_request_id

    def _enrich_response(self, headers, body):
        # moto's own version rewrites every <RequestId> in the body, events' included; pin the
        # operation's id (the EB CLI follows describe_events(RequestId=...)) and touch only the metadata.
        request_id = getattr(self, "_board_request_id", None) or str(uuid.uuid4())
        if "status" in headers:
            headers["status"] = str(headers["status"])
        headers["x-amzn-requestid"] = request_id
        if isinstance(body, str):
            body = re.sub(r"(<ResponseMetadata>\s*<RequestId>)[^<]*(</RequestId>)", rf"\g<1>{request_id}\g<2>",
                          body)
        return headers, body

    def call_action(self):
        action = self._get_action()
        with _lock:
            refused = throttled.get(action, 0) > 0
            if refused:
                throttled[action] -= 1
            other = refusals.get(action)
            if not refused and other and other[0] > 0:
                other[0] -= 1
                return error_response(400, other[1], other[2])
        if refused:
            return error_response(400, "Throttling", "Rate exceeded")
        try:
            return EBResponse._board_original_call_action(self)
        except NotImplementedError as missing:
            # A 400 the SDK understands, not moto's HTML 500 (which clients retry for minutes).
            return error_response(400, "InvalidAction", str(missing))

    def _environment(self, backend, app_name: str | None = None) -> Environment:
        name, env_id = self._get_param("EnvironmentName"), self._get_param("EnvironmentId")
        for app in backend.applications.values():
            if app_name and app.application_name != app_name:
                continue
            for env in app.environments.values():
                if env.status != "Terminated" and (env.environment_name == name or env.environment_id == env_id):
                    return env
        raise InvalidParameterValue(f"No Environment found for EnvironmentName = '{name}'.")

    # -- storage, versions, lifecycle -------------------------------------------------------------------------
    def create_storage_location(self):
        backend = self._backend()
        bucket = f"elasticbeanstalk-{backend.region_name}-{backend.account_id}"
        s3 = s3_backends[backend.account_id]["global"]
        if bucket not in s3.buckets:
            s3.create_bucket(bucket, backend.region_name)
        return ActionResult({"S3Bucket": bucket})

    def create_application_version(self):
        backend = self._backend()
        app, label = self._get_param("ApplicationName"), self._get_param("VersionLabel")
        if app not in backend.applications:
            raise InvalidParameterValue(f"No Application named '{app}' found.")
        if (app, label) in extra(backend).versions:
            raise InvalidParameterValue(f"Application Version {label} already exists.")
        source = self._get_param("SourceBundle") or {}
        bucket = s3_backends[backend.account_id]["global"].buckets.get(source.get("S3Bucket"))
        if bucket is None or source.get("S3Key") not in bucket.keys:
            raise InvalidParameterCombination(
                f"Unable to download from S3 location (Bucket: {source.get('S3Bucket')} Key: {source.get('S3Key')}). "
                "Reason: Not Found")
        if sum(1 for (a, _) in extra(backend).versions if a == app) >= 1000:
            raise TooManyApplicationVersions("You cannot have more than 1000 Application Versions.")
        process = str(self._get_param("Process")).lower() == "true"
        version = {"ApplicationName": app, "VersionLabel": label, "Description": self._get_param("Description") or "",
                   "SourceBundle": {"S3Bucket": source["S3Bucket"], "S3Key": source["S3Key"]},
                   "DateCreated": now(), "DateUpdated": now(), "Status": "PROCESSING" if process else "UNPROCESSED",
                   "ApplicationVersionArn": f"arn:aws:elasticbeanstalk:{backend.region_name}:{backend.account_id}:"
                                            f"applicationversion/{app}/{label}"}
        extra(backend).versions[(app, label)] = version
        if process:
            seconds = settings["processing"] if settings["processing"] is not None else settings["delay"]
            failure = bundle_problem(bucket.keys[source["S3Key"]].value)
            extra(backend).processing[(app, label)] = (time.monotonic() + seconds, failure)
        apply_lifecycle(backend, app)
        return ActionResult({"ApplicationVersion": version})

    def describe_application_versions(self):
        backend = self._backend()
        app, labels = self._get_param("ApplicationName"), self._get_param("VersionLabels") or []
        found = [v for (a, label), v in extra(backend).versions.items()
                 if (not app or a == app) and (not labels or label in labels)]
        found.sort(key=lambda v: v["DateCreated"], reverse=True)
        start = int(self._get_param("NextToken") or 0)
        size = int(self._get_param("MaxRecords") or 1000)
        result = {"ApplicationVersions": found[start:start + size]}
        if start + size < len(found):
            result["NextToken"] = str(start + size)
        return ActionResult(result)

    def update_application_version(self):
        backend = self._backend()
        key = (self._get_param("ApplicationName"), self._get_param("VersionLabel"))
        if key not in extra(backend).versions:
            raise InvalidParameterValue(f"No Application Version named '{key[1]}' found.")
        version = extra(backend).versions[key]
        version["Description"], version["DateUpdated"] = self._get_param("Description") or "", now()
        return ActionResult({"ApplicationVersion": version})

    def delete_application_version(self):
        backend = self._backend()
        app, label = self._get_param("ApplicationName"), self._get_param("VersionLabel")
        version = extra(backend).versions.get((app, label))
        if version is None:
            raise InvalidParameterValue(f"No Application Version named '{label}' found.")
        users = [e.environment_name for e in backend.applications[app].environments.values()
                 if e.version_label == label and e.status != "Terminated"]
        if users:
            raise InvalidParameterValue(f"Unable to delete application version {label} because it is being used by "
                                        f"environment(s): {', '.join(users)}")
        if str(self._get_param("DeleteSourceBundle")).lower() == "true":
            delete_source(backend, version)  # whoever else points at the object: EB does not check
        del extra(backend).versions[(app, label)]
        extra(backend).tags.pop(version["ApplicationVersionArn"], None)
        return EmptyResult()

    def update_tags_for_resource(self):
        backend = self._backend()
        arn = self._get_param("ResourceArn")
        version = self._tagged_version(backend, arn)
        if version is None:
            return EBResponse._board_moto_update_tags(self)
        tags = extra(backend).tags.setdefault(arn, {})
        tags.update({tag["Key"]: tag["Value"] for tag in self._get_param("TagsToAdd", [])})
        for key in self._get_param("TagsToRemove", []):
            tags.pop(key, None)
        if len(tags) > 50:
            raise InvalidParameterValue("A resource can have at most 50 tags.")
        return EmptyResult()

    def list_tags_for_resource(self):
        backend = self._backend()
        arn = self._get_param("ResourceArn")
        if self._tagged_version(backend, arn) is None:
            return EBResponse._board_moto_list_tags(self)
        tags = extra(backend).tags.get(arn, {})
        return ActionResult({"ResourceArn": arn, "ResourceTags": [{"Key": k, "Value": v} for k, v in tags.items()]})

    def _tagged_version(self, backend, arn: str) -> dict | None:
        if ":applicationversion/" not in arn:
            return None
        for version in extra(backend).versions.values():
            if version["ApplicationVersionArn"] == arn:
                return version
        raise InvalidParameterValue(f"Resource '{arn}' not found.")

    def update_application_resource_lifecycle(self):
        backend = self._backend()
        app = self._get_param("ApplicationName")
        if app not in backend.applications:
            raise InvalidParameterValue(f"No Application named '{app}' found.")
        extra(backend).lifecycle[app] = self._get_param("ResourceLifecycleConfig")
        return ActionResult({"ApplicationName": app, "ResourceLifecycleConfig": extra(backend).lifecycle[app]})

    def describe_applications(self):
        backend = self._backend()
        names = self._get_param("ApplicationNames") or []
        apps = [{"ApplicationName": a.application_name, "ApplicationArn": a.arn,
                 "Versions": [label for (name, label) in extra(backend).versions if name == a.application_name],
                 "ResourceLifecycleConfig": extra(backend).lifecycle.get(a.application_name, {})}
                for a in backend.applications.values() if not names or a.application_name in names]
        return ActionResult({"Applications": apps})

    # -- environments -----------------------------------------------------------------------------------------
    def create_environment(self):
        backend = self._backend()
        request_id = self._new_request_id()
        app_name, name = self._get_param("ApplicationName"), self._get_param("EnvironmentName")
        if app_name not in backend.applications:
            raise InvalidParameterValue(f"No Application named '{app_name}' found.")
        app = backend.applications[app_name]
        live = app.environments.get(name)
        if live is not None and live.status != "Terminated":
            raise InvalidParameterValue(f"Environment {name} already exists.")
        app.environments.pop(name, None)
        label = self._get_param("VersionLabel")
        if label and (app_name, label) not in extra(backend).versions:
            raise InvalidParameterValue(f"No Application Version named '{label}' found.")
        tags = {tag["Key"]: tag["Value"] for tag in self._get_param("Tags", [])}
        env = backend.create_environment(app, environment_name=name, stack_name=self._get_param("SolutionStackName"),
                                         tags=tags)
        arn = self._get_param("PlatformArn")
        stack = self._get_param("SolutionStackName")
        chosen = next((p for p in PLATFORMS if platform_arn(backend.region_name, p) == arn
                       or p["SolutionStackName"] == stack), PLATFORMS[0])
        env.solution_stack_name = chosen["SolutionStackName"]
        env._board_platform_arn = platform_arn(backend.region_name, chosen)
        env.environment_id = "e-" + uuid.uuid4().hex[:10]
        prefix = self._get_param("CNAMEPrefix") or name
        env.cname = f"{prefix}.{backend.region_name}.elasticbeanstalk.com"
        env.endpoint_url = f"awseb-{env.environment_id}.{backend.region_name}.elb.amazonaws.com"
        env.version_label = label
        env.status, env.health, env.health_status = "Launching", "Grey", "Pending"
        env.abortable_operation_in_progress = False
        extra(backend).settings[(app_name, name)] = list(self._get_param("OptionSettings") or [])
        record(backend, app_name, name, "createEnvironment is starting.", request_id, label=label)
        refusal = launch_resources(backend, env, request_id)
        if refusal:
            schedule(env, settings["delay"], lambda: fail_launch(backend, env, request_id, refusal))
            return ActionResult(environment_dict(env))
        if label and deploy_locally(backend, env, label, request_id, version_changes=True, creating=True):
            return ActionResult(environment_dict(env))
        schedule(env, settings["delay"], lambda: (
            settle_health(backend, env, label, request_id, "createEnvironment"),
            record(backend, app_name, name, f"Successfully launched environment: {name}", request_id, label=label)
            if env.health == "Green" else None))
        return ActionResult(environment_dict(env))

    def describe_environments(self):
        backend = self._backend()
        app_name = self._get_param("ApplicationName")
        names = self._get_param("EnvironmentNames") or []
        ids = self._get_param("EnvironmentIds") or []
        label = self._get_param("VersionLabel")
        include_deleted = str(self._get_param("IncludeDeleted", "true")).lower() == "true"
        envs = [environment_dict(e) for e in backend.describe_environments()
                if (not app_name or e.application_name == app_name)
                and (not names or e.environment_name in names) and (not ids or e.environment_id in ids)
                and (not label or e.version_label == label) and (include_deleted or e.status != "Terminated")]
        return ActionResult({"Environments": envs})

    def update_environment(self):
        backend = self._backend()
        request_id = self._new_request_id()
        env = self._environment(backend, self._get_param("ApplicationName"))
        if env.status != "Ready":
            raise InvalidParameterValue(f"Environment named {env.environment_name} is in an invalid state for this "
                                        f"operation. Must be Ready.")
        app_name = env.application_name
        label = self._get_param("VersionLabel")
        if label and (app_name, label) not in extra(backend).versions:
            raise InvalidParameterValue(f"No Application Version named '{label}' found.")
        status = extra(backend).versions[(app_name, label)]["Status"] if label else "PROCESSED"
        if status in ("PROCESSING", "BUILDING", "FAILED"):
            raise InvalidParameterValue(f"Application version {label} is {status}: only a processed (or unprocessed) "
                                        "version can be deployed.")
        options = self._get_param("OptionSettings") or []
        to_remove = self._get_param("OptionsToRemove") or []
        if options or to_remove:
            stored = extra(backend).settings.setdefault((app_name, env.environment_name), [])
            stored[:] = eb_options.apply_update(stored, options, to_remove)
        env.status, env.abortable_operation_in_progress = "Updating", True
        env.health, env.health_status = "Grey", "Pending"
        target = label or env.version_label
        record(backend, app_name, env.environment_name, "Environment update is starting.", request_id, label=target)
        if label:
            record(backend, app_name, env.environment_name, f"Deploying new version {label} to instance(s).",
                   request_id, label=label)

        env._board_previous = env.version_label
        if (label or options) and deploy_locally(backend, env, target, request_id, version_changes=bool(label)):
            return ActionResult(environment_dict(env))
        schedule(env, settings["delay"], lambda: deploy_step(backend, env, target, request_id))
        return ActionResult(environment_dict(env))

    def abort_environment_update(self):
        backend = self._backend()
        request_id = self._new_request_id()
        env = self._environment(backend)
        if env.status != "Updating" or not env.abortable_operation_in_progress:
            raise InvalidParameterValue(f"Environment named {env.environment_name} has no operation in progress "
                                        "that can be aborted.")
        env.abortable_operation_in_progress = False
        record(backend, env.application_name, env.environment_name, "Environment update is being aborted.",
               request_id, "WARN")
        previous = getattr(env, "_board_previous", env.version_label)

        def back():
            deploy_step(backend, env, previous, request_id)
            record(backend, env.application_name, env.environment_name,
                   "Environment update was aborted; the environment is back on its previous version.", request_id,
                   "WARN", previous)

        schedule(env, settings["delay"], back)
        return EmptyResult()

    def terminate_environment(self):
        backend = self._backend()
        request_id = self._new_request_id()
        env = self._environment(backend)
        env.status = "Terminating"
        record(backend, env.application_name, env.environment_name, "terminateEnvironment is starting.", request_id)

        def finish():
            if env.environment_name in launched:  # EB terminates the environment's instances
                launched.discard(env.environment_name)
                local_fleets.pop(env.environment_name).stop()
            env.status, env.health, env.health_status = "Terminated", "Grey", None
            record(backend, env.application_name, env.environment_name,
                   "terminateEnvironment completed successfully.", request_id)

        schedule(env, settings["delay"], finish)
        return ActionResult(environment_dict(env))

    def swap_environment_cnames(self):
        backend = self._backend()
        self._new_request_id()
        source = self._get_param("SourceEnvironmentName")
        destination = self._get_param("DestinationEnvironmentName")
        envs = {e.environment_name: e for e in backend.describe_environments() if e.status != "Terminated"}
        if source not in envs or destination not in envs:
            raise InvalidParameterValue("Both environments must exist to swap their CNAMEs.")
        envs[source].cname, envs[destination].cname = envs[destination].cname, envs[source].cname
        return EmptyResult()

    # moto turns SwapEnvironmentCNAMEs into this method name.
    swap_environment_cnam_es = swap_environment_cnames

    def describe_events(self):
        backend = self._backend()
        wanted = {key: self._get_param(key) for key in ("ApplicationName", "EnvironmentName", "VersionLabel",
                                                        "RequestId")}
        start, end = self._get_param("StartTime"), self._get_param("EndTime")
        levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
        floor = levels.index(self._get_param("Severity")) if self._get_param("Severity") else 0
        found = [e for e in extra(backend).events
                 if all(not value or e.get(key) == value for key, value in wanted.items())
                 and (not start or e["EventDate"] >= parse_time(start))
                 and (not end or e["EventDate"] < parse_time(end))
                 and levels.index(e["Severity"]) >= floor]
        found.sort(key=lambda e: e["EventDate"], reverse=True)
        size = int(self._get_param("MaxRecords") or 1000)
        return ActionResult({"Events": [{k: v for k, v in e.items() if v is not None} for e in found[:size]]})

    def describe_environment_health(self):
        backend = self._backend()
        env = self._environment(backend)
        return ActionResult({"EnvironmentName": env.environment_name, "HealthStatus": env.health_status or "No Data",
                             "Status": env.status, "Color": env.health, "Causes": causes(env),
                             "InstancesHealth": instances_health(env),
                             "RefreshedAt": now()})

    def describe_configuration_settings(self):
        backend = self._backend()
        app_name, name = self._get_param("ApplicationName"), self._get_param("EnvironmentName")
        env = self._environment(backend, app_name)
        return with_tier(self.serialized(ActionResult({"ConfigurationSettings": [{
            "SolutionStackName": env.solution_stack_name, "ApplicationName": app_name, "EnvironmentName": name,
            "DeploymentStatus": "deployed", "DateCreated": env.date_created, "DateUpdated": env.date_updated,
            "PlatformArn": getattr(env, "_board_platform_arn", None),
            "OptionSettings": settings_in_force(backend, env)}]})), env.tier)

    def check_dns_availability(self):
        backend = self._backend()
        prefix = self._get_param("CNAMEPrefix")
        taken = any(e.cname.startswith(prefix + ".") for e in backend.describe_environments() if e.cname)
        return ActionResult({"Available": not taken,
                             "FullyQualifiedCNAME": f"{prefix}.{backend.region_name}.elasticbeanstalk.com"})


# -- option settings as EB resolves them (rules in localeb/eb_options.py) ------------------------------------------
def file_settings(backend, env: Environment) -> list[dict]:
    """The option settings of the .ebextensions in the version the environment runs."""
    version = extra(backend).versions.get((env.application_name, env.version_label))
    try:
        bundle = eb_options.version_bundle(backend.account_id, version)
    except KeyError:  # the bundle was deleted from S3
        return []
    return eb_options.ebextensions_settings(bundle) if bundle else []


def settings_in_force(backend, env: Environment) -> list[dict]:
    api = extra(backend).settings.get((env.application_name, env.environment_name), [])
    return eb_options.as_option_settings(eb_options.effective(api, file_settings(backend, env)))


def launch_resources(backend, env: Environment, request_id: str) -> str | None:
    """Create what the environment's stack creates; the reason the launch fails, if it does."""
    api = extra(backend).settings.get((env.application_name, env.environment_name), [])
    files = file_settings(backend, env)
    for warning in eb_options.warnings(api, files):
        record(backend, env.application_name, env.environment_name, warning, request_id, "WARN", env.version_label)
    values = eb_options.effective(api, files)
    env._board_instances = [{"InstanceId": "i-" + uuid.uuid4().hex[:17], "LaunchedAt": now(),
                             "AvailabilityZone": f"{backend.region_name}a", "InstanceType": "t3.micro"}]
    if values.get((LOG_STREAMING, "StreamLogs")) == "true":
        eb_options.create_log_groups(backend.account_id, backend.region_name, env.environment_name,
                                     [i["InstanceId"] for i in env._board_instances])
    eb_options.create_security_groups(backend.account_id, backend.region_name, env.environment_name,
                                      env.environment_id,
                                      values[(ENVIRONMENT_SETTINGS, "EnvironmentType")] == "LoadBalanced")
    return eb_options.database_refusal(values)


def fail_launch(backend, env: Environment, request_id: str, reason: str) -> None:
    """A stack that failed to create its database, as EB reports it."""
    app, name, stack = env.application_name, env.environment_name, f"awseb-{env.environment_id}-stack"
    env.status, env.health, env.health_status = "Ready", "Grey", "Severe"
    env.date_updated = now()
    record(backend, app, name, f"Creating RDS database named: {env.environment_id} failed Reason: {reason}",
           request_id, "ERROR")
    record(backend, app, name, f"Stack named '{stack}' aborted operation. Current state: 'CREATE_FAILED'  Reason: "
           "The following resource(s) failed to create: [AWSEBRDSDatabase].", request_id, "ERROR")
    record(backend, app, name, "Create environment operation is complete, but with errors. For more information, "
           "see troubleshooting documentation.", request_id, "ERROR")


def with_tier(response, tier: dict):
    """The EB CLI's own service model reads a Tier in each configuration description (`eb health` draws it);
    botocore's, which moto serializes with, has none, so it is added to the XML."""
    status, headers, body = response
    xml = "<Tier>" + "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in tier.items()) + "</Tier>"
    return status, headers, body.replace("</SolutionStackName>", "</SolutionStackName>" + xml)


class Instances:
    """The environment's instances as enhanced health reports them (`eb health`)."""

    def describe_instances_health(self):
        backend = self._backend()
        env = self._environment(backend)
        return ActionResult({"InstanceHealthList": [
            {**instance, "HealthStatus": instance_status(env), "Color": env.health, "Causes": causes(env),
             "Deployment": {"VersionLabel": env.version_label, "DeploymentId": 1, "Status": "Deployed",
                            "DeploymentTime": env.date_updated}}
            for instance in instances(env, backend)], "RefreshedAt": now()})


def instances(env: Environment, backend) -> list[dict]:
    """The instances a launch made (one), or one standing in for an environment made before they were kept."""
    return getattr(env, "_board_instances", None) or [
        {"InstanceId": "i-" + env.environment_id[2:].ljust(17, "0"), "LaunchedAt": env.date_created,
         "AvailabilityZone": f"{backend.region_name}a", "InstanceType": "t3.micro"}]


def instance_status(env: Environment) -> str:
    """Enhanced health's status: the scripted or deployed one, else the one the colour implies."""
    return env.health_status if env.health_status in HEALTH_STATUSES else \
        {"Green": "Ok", "Red": "Severe"}.get(env.health, "Pending")


HEALTH_STATUSES = ["NoData", "Unknown", "Pending", "Ok", "Info", "Warning", "Degraded", "Severe"]


def instances_health(env: Environment) -> dict:
    """Counts of instances per health status, as describe_environment_health's InstancesHealth gives them."""
    counts = dict.fromkeys(HEALTH_STATUSES, 0)
    counts[instance_status(env)] += len(getattr(env, "_board_instances", []))
    return counts


def platform(branch: str, version: str, stack: str, category: str, lifecycle: str = "Supported") -> dict:
    return {"PlatformName": branch, "PlatformVersion": version, "SolutionStackName": stack,
            "PlatformBranchName": branch, "PlatformCategory": category, "PlatformStatus": "Ready",
            "PlatformOwner": "AWSElasticBeanstalk", "PlatformBranchLifecycleState": lifecycle,
            "PlatformLifecycleState": "Recommended", "OperatingSystemName": "Amazon Linux",
            "OperatingSystemVersion": "2023" if "2023" in branch else "2",
            "SupportedTierList": ["WebServer/Standard", "Worker/SQS/HTTP"], "SupportedAddonList": ["Log/S3"]}


PLATFORMS = [
    platform("Docker running on 64bit Amazon Linux 2023", "4.10.0",
             "64bit Amazon Linux 2023 v4.10.0 running Docker", "Docker"),
    platform("Docker running on 64bit Amazon Linux 2023", "4.3.0",
             "64bit Amazon Linux 2023 v4.3.0 running Docker", "Docker"),
    platform("Docker running on 64bit Amazon Linux 2", "4.1.0", "64bit Amazon Linux 2 v4.1.0 running Docker",
             "Docker", "Deprecated"),
    *(platform(f"Python {stack.rsplit(' ', 1)[1]} running on 64bit Amazon Linux 2023", stack.split()[4][1:], stack,
               "Python") for stack in PYTHON_STACKS),
]
OPERATORS = {"=": lambda a, b: a == b, "!=": lambda a, b: a != b, "contains": lambda a, b: b in a,
             "begins_with": lambda a, b: a.startswith(b), "ends_with": lambda a, b: a.endswith(b),
             "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def matches(item: dict, filters: list[dict], key: str) -> bool:
    for spec in filters or []:
        value = str(item.get(spec.get(key), ""))
        compare = OPERATORS.get(spec.get("Operator", "="), OPERATORS["="])
        if not any(compare(value, wanted) for wanted in spec.get("Values", [])):
            return False
    return True


def platform_arn(region: str, item: dict) -> str:
    return f"arn:aws:elasticbeanstalk:{region}::platform/{item['PlatformName']}/{item['PlatformVersion']}"


class Platforms:
    """Platform branches and versions, which the EB CLI resolves `-p docker` through."""

    def list_platform_branches(self):
        backend = self._backend()
        branches = {}
        for item in PLATFORMS:
            summary = {"PlatformName": item["PlatformCategory"], "BranchName": item["PlatformBranchName"],
                       "LifecycleState": item["PlatformBranchLifecycleState"], "BranchOrder": 1,
                       "SupportedTierList": item["SupportedTierList"]}
            if matches({**summary, "PlatformName": item["PlatformCategory"]}, self._get_param("Filters"),
                       "Attribute"):
                branches[summary["BranchName"]] = summary
        del backend
        return ActionResult({"PlatformBranchSummaryList": list(branches.values())})

    def list_platform_versions(self):
        backend = self._backend()
        found = [{**item, "PlatformArn": platform_arn(backend.region_name, item)} for item in PLATFORMS
                 if matches(item, self._get_param("Filters"), "Type")]
        return ActionResult({"PlatformSummaryList": found})

    def describe_platform_version(self):
        backend = self._backend()
        arn = self._get_param("PlatformArn")
        for item in PLATFORMS:
            if platform_arn(backend.region_name, item) == arn:
                return ActionResult({"PlatformDescription": {**item, "PlatformArn": arn}})
        raise InvalidParameterValue(f"No Platform found for ARN '{arn}'.")


def parse_time(value) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def install() -> None:
    """Add the extension to moto's EB classes (idempotent)."""
    if getattr(EBResponse, "_board_extended", False):
        return
    EBResponse._board_original_call_action = EBResponse.call_action
    EBResponse._board_moto_update_tags = EBResponse.update_tags_for_resource
    EBResponse._board_moto_list_tags = EBResponse.list_tags_for_resource
    for part in (Extension, Platforms, Instances):
        for name, member in vars(part).items():
            if not name.startswith("__"):
                setattr(EBResponse, name, member)
    known = {s["SolutionStackName"] for s in eb_responses.SOLUTION_STACK_DETAILS}
    eb_responses.SOLUTION_STACK_DETAILS.extend({"SolutionStackName": name, "PermittedFileTypes": ["zip"]}
                                               for name in DOCKER_STACKS + PYTHON_STACKS if name not in known)
    EBResponse._board_extended = True


install()
