"""The one place that reads the environment.

Everything the app and gunicorn take from the environment is named in
VARIABLES (docs/configuration.md's table is checked against it by a test). This module
imports nothing from the rest of the package, so gunicorn.conf.py can load it
without importing the app into gunicorn's master process (which would pin old
code across reloads).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

# Bodies above this are refused with 413 before a view runs; nginx on EB uses
# the same limit (.platform/nginx/conf.d/), a test keeps the two equal.
MAX_CONTENT_LENGTH = 1024 * 1024

# The port gunicorn binds (PORT overrides it). The Dockerfile's EXPOSE and
# compose's container port must equal it (a test checks): EB's Docker platform
# forwards to the first EXPOSEd port, its Python platform to 8000 unless the
# PORT property says otherwise; one port that suits both (docs/eb-platform.md).
CONTAINER_PORT = 8000

# Seconds gunicorn gives a client to send a whole request head before it closes the connection
# (gunicorn.conf.py): as slow as a person's connection may be, short enough that idle ones do not pile up.
REQUEST_HEAD_TIMEOUT = 10

# How long "Remember me" keeps an author logged in (logout and a password change end it sooner).
REMEMBER_FOR = timedelta(days=30)
# The most a login without it lasts: the browser ends it sooner when it closes, the server after this.
SESSION_FOR = timedelta(hours=12)

TRUTHY = frozenset({"1", "true", "yes", "on"})
FALSY = frozenset({"", "0", "false", "no", "off"})


class ConfigError(ValueError):
    """A setting a person got wrong; its message is one line that says how to fix it."""


@dataclass(frozen=True)
class Variable:
    """One environment variable: its typed default, its range if it is a number, and the README's line.

    A default of True/False makes a yes/no setting, `low` and `high` a whole number in that range, anything
    else text, stripped unless `exact` (None: no default). `shown` is the README's default where a rule stands
    in for one value.
    """

    name: str
    default: str | int | bool | None
    help: str
    low: int | None = None
    high: int | None = None
    shown: str | None = None
    exact: bool = False  # kept as given, spaces included (secrets, names)

    def read(self, environ):
        value = environ.get(self.name)
        if self.exact:
            return value or self.default
        if value is None or value.strip() == "":
            return self.default
        if self.low is not None:
            return integer(self.name, value, self.low, self.high)
        if isinstance(self.default, bool):
            return flag(self.name, value)
        return value.strip()

    @property
    def documented(self) -> str:
        if self.shown is not None:
            return self.shown
        if isinstance(self.default, bool):
            return str(self.default).lower()
        return "" if self.default is None else str(self.default)


# Where the prebuild hook (.platform/hooks/prebuild/01_version_label.py) writes the label of the application
# version being deployed, so a version deployed by `eb deploy` or the console, which set no APP_VERSION, still
# shows its label at /version (docs/eb-platform.md). Not in git; absent outside EB.
VERSION_LABEL_FILE = Path(__file__).with_name("VERSION_LABEL")

# Each setting is one Variable, listed in VARIABLES (below) in the order of docs/configuration.md's table.
APP_ENV = Variable("APP_ENV", "production", "`production`, `development` or `test` (`FLASK_ENV` is read too).")
SECRET_KEY = Variable("SECRET_KEY", None, "Signs sessions and CSRF tokens. Development keeps a generated one in "
                      "`instance/`.", shown="(required in production)", exact=True)
DATABASE_URL = Variable("DATABASE_URL", None, "SQLAlchemy URL; wins over `RDS_*`. Production needs one of the "
                        "two; elsewhere SQLite in `instance/`.")
RDS_HOSTNAME = Variable("RDS_HOSTNAME", None, "Set by Elastic Beanstalk when RDS is attached; selects PostgreSQL.")
RDS_PORT = Variable("RDS_PORT", 5432, "PostgreSQL port.", 1, 65535)
RDS_DB_NAME = Variable("RDS_DB_NAME", "ebdb", "Database name.", exact=True)
RDS_USERNAME = Variable("RDS_USERNAME", None, "Database user (required with `RDS_HOSTNAME`).", exact=True)
RDS_PASSWORD = Variable("RDS_PASSWORD", "", "Database password; any characters (it is URL-escaped).", exact=True)
DATABASE_READ_URL = Variable("DATABASE_READ_URL", None, "SQLAlchemy URL of a read replica or Aurora reader "
                             "endpoint that pages read from; wins over `RDS_READ_HOSTNAME`. Empty: the primary.")
RDS_READ_HOSTNAME = Variable("RDS_READ_HOSTNAME", None, "Host of a read replica or Aurora reader endpoint, reached "
                             "with the `RDS_*` port, name and credentials.")
# A replica applies a write a moment after the primary: long enough to cover its lag, short enough that
# a busy writer's pages soon go back to the replica.
READ_YOUR_WRITES = Variable("READ_YOUR_WRITES", 5, "Seconds a client's pages read from the primary after it "
                            "writes, so it sees its own writes on a lagging replica.", 1, 3600)
DB_CONNECT_TIMEOUT = Variable("DB_CONNECT_TIMEOUT", 5, "Seconds to wait for a database connection.", 1, 300)
# Younger than the idle timeouts that drop connections silently on AWS (350 s at a NAT gateway).
DB_POOL_RECYCLE = Variable("DB_POOL_RECYCLE", 300, "Seconds after which pooled connections are replaced.", 1, 86400)
POSTS_PER_PAGE = Variable("POSTS_PER_PAGE", 10, "Posts on a page (1 to 100).", 1, 100)
APP_VERSION = Variable("APP_VERSION", "dev", "Version label shown by `/version` where EB gave none (on EB a hook "
                      "writes the deployed label, which wins); the deploy tool sets it too.")
LOG_LEVEL = Variable("LOG_LEVEL", "INFO", "Level of the app's own log lines (stdout).")
PORT = Variable("PORT", CONTAINER_PORT, "Port gunicorn binds on all interfaces (the container port).", 1, 65535)
WEB_CONCURRENCY = Variable("WEB_CONCURRENCY", None, "gunicorn worker processes: one per CPU the container may use; "
                           "one while developing.", 1, 64, shown="(usable CPUs; 1 with AUTO_RELOAD)")
GUNICORN_THREADS = Variable("GUNICORN_THREADS", 8, "Threads per gunicorn worker (each keeps a database "
                            "connection for reads and one for writes).", 1, 64)
GUNICORN_TIMEOUT = Variable("GUNICORN_TIMEOUT", 30, "Seconds before a silent worker is killed and restarted.", 1, 3600)
AUTO_RELOAD = Variable("AUTO_RELOAD", False, "`1/true/yes/on`: gunicorn restarts workers on code changes; "
                       "templates are re-read without one.")
TRUSTED_HOSTS = Variable("TRUSTED_HOSTS", None, "Comma-separated host names the site answers to (`.example.com` "
                         "takes subdomains too), in any case and with or without a final dot; other `Host` headers "
                         "get 400 and the API's links are absolute, with a port only where one is named "
                         "(`localhost:8000`). Empty: any host, links are paths.")
FORWARDED_ALLOW_IPS = Variable("FORWARDED_ALLOW_IPS", "127.0.0.1,::1", "Proxies whose X-Forwarded-* headers are "
                               "trusted (the image sets `*`: only the proxy in front reaches it).")
PROXY_HOPS = Variable("PROXY_HOPS", 0, "Proxies in front that append the client's address to `X-Forwarded-For`; the "
                      "client is the address the outermost of them added, 0: the connection's own. `.ebextensions` "
                      "sets 1 ([client-address.md](client-address.md)).", 0, 5)

VARIABLES = (
    APP_ENV, SECRET_KEY, DATABASE_URL, RDS_HOSTNAME, RDS_PORT, RDS_DB_NAME, RDS_USERNAME, RDS_PASSWORD,
    DATABASE_READ_URL, RDS_READ_HOSTNAME, READ_YOUR_WRITES, DB_CONNECT_TIMEOUT, DB_POOL_RECYCLE, POSTS_PER_PAGE,
    APP_VERSION, LOG_LEVEL, PORT, WEB_CONCURRENCY, GUNICORN_THREADS, GUNICORN_TIMEOUT, AUTO_RELOAD, TRUSTED_HOSTS,
    FORWARDED_ALLOW_IPS, PROXY_HOPS,
)


def flag(name: str, value: str | None) -> bool:
    text = (value or "").strip().lower()
    if text in TRUTHY:
        return True
    if text in FALSY:
        return False
    raise ConfigError(f"{name}={value!r} is not a yes/no value; use 1/true/yes/on or 0/false/no/off")


def integer(name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a whole number; use one from {low} to {high}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name}={number} is out of range; use one from {low} to {high}")
    return number


def app_env(environ) -> str:
    env = (environ.get("APP_ENV") or environ.get("FLASK_ENV") or APP_ENV.default).strip().lower()
    if env not in {"production", "development", "test"}:
        raise ConfigError(f"APP_ENV={env!r} is unknown; use production, development or test")
    return env


def database_url(environ, instance_path: str) -> str:
    url = named_url(environ, DATABASE_URL, RDS_HOSTNAME)
    if url:
        return url
    if app_env(environ) == "production":
        # A SQLite file here would live in the container: lost at every deploy, and
        # a different database on every instance.
        raise ConfigError("no database is configured; production needs DATABASE_URL, or RDS_HOSTNAME with "
                          "RDS_USERNAME and RDS_PASSWORD (Elastic Beanstalk sets RDS_* for an attached database)")
    return "sqlite:///" + str(Path(instance_path) / "board.sqlite")


def read_database_url(environ, primary_url: str) -> str:
    """Where pages read: a replica or reader endpoint when one is named, else the primary."""
    return named_url(environ, DATABASE_READ_URL, RDS_READ_HOSTNAME) or primary_url


def named_url(environ, url_variable: Variable, host_variable: Variable) -> str | None:
    """The URL `url_variable` holds, else one to the RDS host `host_variable` names, else None."""
    url = url_variable.read(environ)
    if url:
        # Heroku-style and libpq-style schemes name the driver SQLAlchemy should use.
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg2://" + url[len(prefix):]
        return url
    host = host_variable.read(environ)
    if not host:
        return None
    user = RDS_USERNAME.read(environ)
    if not user:
        raise ConfigError(f"{host_variable.name} is set but RDS_USERNAME is empty; set both (or {url_variable.name})")
    # RDS user names and passwords may hold @ / : and the like: escape everything but letters and digits.
    credentials = quote(user, safe="") + ":" + quote(RDS_PASSWORD.read(environ), safe="")
    name = quote(RDS_DB_NAME.read(environ), safe="")
    return f"postgresql+psycopg2://{credentials}@{host}:{RDS_PORT.read(environ)}/{name}"


def engine_options(environ, url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15}}
    return {
        # Heal after a database restart or RDS failover without restarting the app: a connection the
        # server dropped is replaced before a request sees it, for one round trip a checkout.
        "pool_pre_ping": True,
        # A thread holds at most one connection of each engine (the primary's and the read path's): one kept
        # per thread, none opened beyond, so an instance keeps at most 2 x workers x threads connections to
        # RDS, never reconnecting under load.
        "pool_size": GUNICORN_THREADS.read(environ),
        "max_overflow": 0,
        "pool_recycle": DB_POOL_RECYCLE.read(environ),
        "connect_args": {"connect_timeout": DB_CONNECT_TIMEOUT.read(environ)},
    }


def secret_key(environ, env: str, instance_path: str) -> str:
    key = SECRET_KEY.read(environ)
    if key:
        return key
    if env == "production":
        raise ConfigError("SECRET_KEY is not set; production needs one "
                          "(make one with: python -c 'import secrets; print(secrets.token_hex(32))')")
    if env == "test":
        return secrets.token_hex(32)
    # Development: one key kept in the instance folder, shared by every worker
    # and surviving reloads, so logins do not vanish on each code change.
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def app_version(environ, label_file: Path = VERSION_LABEL_FILE) -> str:
    """The label EB is deploying (the hook's file), else APP_VERSION, else `dev`.

    The file wins: it is written by every deployment, whatever deployed it, while the APP_VERSION property
    stays as the last `python -m deploy release` left it, stale after an `eb deploy`. APP_VERSION still
    speaks where the platform gave no label (outside EB, or an instance without the manifest)."""
    try:
        label = label_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        label = ""
    if label:
        return label
    return APP_VERSION.read(environ) if (environ.get(APP_VERSION.name) or "").strip() else APP_VERSION.default


def app_config(instance_path: str, environ=None) -> dict:
    """Flask settings from the environment; raises ConfigError on bad input."""
    environ = os.environ if environ is None else environ
    env = app_env(environ)
    key = secret_key(environ, env, instance_path)
    url = database_url(environ, instance_path)
    read_url = read_database_url(environ, url)
    return {
        "APP_ENV": env,
        "TESTING": env == "test",
        "SECRET_KEY": key,
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(environ, url),
        # The read path's engines (board/reads.py) add their read-only settings to these.
        "READ_DATABASE_URI": read_url,
        "READ_ENGINE_OPTIONS": engine_options(environ, read_url),
        "READ_YOUR_WRITES": timedelta(seconds=READ_YOUR_WRITES.read(environ)),
        "POSTS_PER_PAGE": POSTS_PER_PAGE.read(environ),
        "APP_VERSION": app_version(environ),
        "LOG_LEVEL": LOG_LEVEL.read(environ).upper(),
        "MAX_CONTENT_LENGTH": MAX_CONTENT_LENGTH,
        # Not Flask's TRUSTED_HOSTS, which would refuse the load balancer's health checks too (board/hosts.py).
        "BOARD_TRUSTED_HOSTS": [host.strip() for host in (TRUSTED_HOSTS.read(environ) or "").split(",")
                                if host.strip()],
        # With AUTO_RELOAD a changed template is read again on its next render, so
        # gunicorn need not restart workers for it (gunicorn.conf.py).
        "TEMPLATES_AUTO_RELOAD": AUTO_RELOAD.read(environ),
        # Secure is not set here: cookies are Secure exactly when the request came
        # over HTTPS (board/security.py), so the app also works at a plain http://
        # address such as a new Elastic Beanstalk environment's.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_DURATION": REMEMBER_FOR,
        # The session cookie's signature expires with the longest login it can hold without "Remember me".
        "PERMANENT_SESSION_LIFETIME": SESSION_FOR,
        "PROXY_HOPS": PROXY_HOPS.read(environ),
    }


def usable_cpus() -> int:
    """The CPUs this process may run on: fewer than the machine's under `docker run --cpuset-cpus` or taskset."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def server_config(environ=None) -> dict:
    """gunicorn's settings from the environment (read by gunicorn.conf.py)."""
    environ = os.environ if environ is None else environ
    auto_reload = AUTO_RELOAD.read(environ)
    # Processes cover CPU (template rendering) and threads the waits on the
    # database, so one process per usable CPU keeps every CPU busy. While
    # developing, every .py edit boots all workers again at once; one worker
    # (its threads serve a developer's requests) boots alone.
    return {
        "port": PORT.read(environ),
        "workers": WEB_CONCURRENCY.read(environ) or (1 if auto_reload else usable_cpus()),
        "threads": GUNICORN_THREADS.read(environ),
        "timeout": GUNICORN_TIMEOUT.read(environ),
        "auto_reload": auto_reload,
        "forwarded_allow_ips": FORWARDED_ALLOW_IPS.read(environ),
    }
