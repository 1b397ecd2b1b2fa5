"""The one place that reads the environment.

Everything the app and gunicorn take from the environment is named in
VARIABLES (the README's table is checked against it by a test). This module
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

# The port gunicorn binds inside the container. The Dockerfile's EXPOSE and
# compose's container port must equal it (a test checks): EB's nginx forwards
# to the first EXPOSEd port, and a mismatch is the classic 502.
CONTAINER_PORT = 5000

# How long "Remember me" keeps an author logged in (logout and a password change end it sooner).
REMEMBER_FOR = timedelta(days=30)

TRUTHY = frozenset({"1", "true", "yes", "on"})
FALSY = frozenset({"", "0", "false", "no", "off"})


class ConfigError(ValueError):
    """A setting a person got wrong; its message is one line that says how to fix it."""


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    help: str


VARIABLES = (
    Variable("APP_ENV", "production", "`production`, `development` or `test` (`FLASK_ENV` is read too)."),
    Variable("SECRET_KEY", "(required in production)",
             "Signs sessions and CSRF tokens. Development keeps a generated one in `instance/`."),
    Variable("DATABASE_URL", "", "SQLAlchemy URL; wins over `RDS_*`."),
    Variable("RDS_HOSTNAME", "", "Set by Elastic Beanstalk when RDS is attached; selects PostgreSQL."),
    Variable("RDS_PORT", "5432", "PostgreSQL port."),
    Variable("RDS_DB_NAME", "ebdb", "Database name."),
    Variable("RDS_USERNAME", "", "Database user (required with `RDS_HOSTNAME`)."),
    Variable("RDS_PASSWORD", "", "Database password; any characters (it is URL-escaped)."),
    Variable("DB_CONNECT_TIMEOUT", "5", "Seconds to wait for a database connection."),
    Variable("DB_POOL_RECYCLE", "300", "Seconds after which pooled connections are replaced."),
    Variable("POSTS_PER_PAGE", "10", "Posts on a page (1 to 100)."),
    Variable("APP_VERSION", "dev", "Deployed version label, shown by `/version`; the deploy tool sets it."),
    Variable("LOG_LEVEL", "INFO", "Level of the app's own log lines (stdout)."),
    Variable("PORT", str(CONTAINER_PORT), "Port gunicorn binds on all interfaces (the container port)."),
    Variable("WEB_CONCURRENCY", "(usable CPUs)", "gunicorn worker processes: one per CPU the container may use."),
    Variable("GUNICORN_THREADS", "8", "Threads per gunicorn worker (and database connections each keeps)."),
    Variable("GUNICORN_TIMEOUT", "30", "Seconds before a silent worker is killed and restarted."),
    Variable("AUTO_RELOAD", "false", "`1/true/yes/on`: gunicorn reloads on code and template changes."),
    Variable("TRUSTED_HOSTS", "",
             "Comma-separated host names the site answers to (`.example.com` takes subdomains too); other "
             "`Host` headers get 400 and the API's links are absolute. Empty: any host, links are paths."),
    Variable("FORWARDED_ALLOW_IPS", "127.0.0.1,::1",
             "Proxies whose X-Forwarded-* headers are trusted (EB's nginx is local; compose sets `*`)."),
)

DEFAULTS = {v.name: v.default for v in VARIABLES}


def flag(name: str, value: str | None) -> bool:
    text = (value or "").strip().lower()
    if text in TRUTHY:
        return True
    if text in FALSY:
        return False
    raise ConfigError(f"{name}={value!r} is not a yes/no value; use 1/true/yes/on or 0/false/no/off")


def integer(name: str, value: str | None, default: int, low: int, high: int) -> int:
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a whole number; use one from {low} to {high}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name}={number} is out of range; use one from {low} to {high}")
    return number


def app_env(environ) -> str:
    env = (environ.get("APP_ENV") or environ.get("FLASK_ENV") or "production").strip().lower()
    if env not in {"production", "development", "test"}:
        raise ConfigError(f"APP_ENV={env!r} is unknown; use production, development or test")
    return env


def database_url(environ, instance_path: str) -> str:
    url = (environ.get("DATABASE_URL") or "").strip()
    if url:
        # Heroku-style and libpq-style schemes name the driver SQLAlchemy should use.
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg2://" + url[len(prefix):]
        return url
    host = (environ.get("RDS_HOSTNAME") or "").strip()
    if host:
        user = environ.get("RDS_USERNAME") or ""
        if not user:
            raise ConfigError("RDS_HOSTNAME is set but RDS_USERNAME is empty; set both (or DATABASE_URL)")
        port = integer("RDS_PORT", environ.get("RDS_PORT"), 5432, 1, 65535)
        name = environ.get("RDS_DB_NAME") or DEFAULTS["RDS_DB_NAME"]
        # RDS passwords may hold @ / : and the like: escape everything but letters and digits.
        credentials = quote(user, safe="") + ":" + quote(environ.get("RDS_PASSWORD") or "", safe="")
        return f"postgresql+psycopg2://{credentials}@{host}:{port}/{quote(name, safe='')}"
    return "sqlite:///" + str(Path(instance_path) / "board.sqlite")


def engine_options(environ, url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15}}
    return {
        # Heal after a database restart or RDS failover without restarting the app: a connection the
        # server dropped is replaced before a request sees it. Its round trip is one of a page read's
        # two; it cost about 3% of the index's throughput in an A/B on a quiet VM (10% on a busy one).
        "pool_pre_ping": True,
        # Read requests run in autocommit (board/database.py), where there is nothing to roll back; psycopg2's
        # rollback still releases the GIL, so under load it hands the CPU to another thread on every read
        # (measured: 0.2 µs a call alone, 50 µs with a busy thread waiting). Writes still roll back.
        "skip_autocommit_rollback": True,
        # A thread holds at most one connection: one kept per thread, none opened beyond, so an instance
        # keeps workers x threads connections to RDS, never reconnecting under load.
        "pool_size": threads(environ),
        "max_overflow": 0,
        # Younger than the idle timeouts that drop connections silently on AWS (350 s at a NAT gateway).
        "pool_recycle": integer("DB_POOL_RECYCLE", environ.get("DB_POOL_RECYCLE"), 300, 1, 86400),
        "connect_args": {
            "connect_timeout": integer("DB_CONNECT_TIMEOUT", environ.get("DB_CONNECT_TIMEOUT"), 5, 1, 300)
        },
    }


def secret_key(environ, env: str, instance_path: str) -> str:
    key = environ.get("SECRET_KEY") or ""
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


def app_config(instance_path: str, environ=None) -> dict:
    """Flask settings from the environment; raises ConfigError on bad input."""
    environ = os.environ if environ is None else environ
    env = app_env(environ)
    url = database_url(environ, instance_path)
    return {
        "APP_ENV": env,
        "TESTING": env == "test",
        "SECRET_KEY": secret_key(environ, env, instance_path),
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(environ, url),
        "POSTS_PER_PAGE": integer("POSTS_PER_PAGE", environ.get("POSTS_PER_PAGE"), 10, 1, 100),
        "APP_VERSION": (environ.get("APP_VERSION") or DEFAULTS["APP_VERSION"]).strip(),
        "LOG_LEVEL": (environ.get("LOG_LEVEL") or DEFAULTS["LOG_LEVEL"]).strip().upper(),
        "MAX_CONTENT_LENGTH": MAX_CONTENT_LENGTH,
        # Not Flask's TRUSTED_HOSTS, which would refuse the load balancer's health checks too (board/hosts.py).
        "BOARD_TRUSTED_HOSTS": [host.strip() for host in (environ.get("TRUSTED_HOSTS") or "").split(",")
                                if host.strip()],
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env == "production",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": env == "production",
        "REMEMBER_COOKIE_DURATION": REMEMBER_FOR,
    }


def threads(environ) -> int:
    return integer("GUNICORN_THREADS", environ.get("GUNICORN_THREADS"), int(DEFAULTS["GUNICORN_THREADS"]), 1, 64)


def usable_cpus() -> int:
    """The CPUs this process may run on: fewer than the machine's under `docker run --cpuset-cpus` or taskset."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_workers(cpu_count: int) -> int:
    # Processes cover CPU (template rendering), threads (GUNICORN_THREADS) cover
    # the waits on the database, so one process per CPU keeps every CPU busy.
    # A second process on the same CPU only adds switching between address
    # spaces: measured by `make bench` on one CPU, 1 worker x 8 threads served
    # the index 1.2x and the from-memory page 1.4x as fast as 2 x 4.
    return cpu_count


def server_config(environ=None) -> dict:
    """gunicorn's settings from the environment (read by gunicorn.conf.py)."""
    environ = os.environ if environ is None else environ
    return {
        "port": integer("PORT", environ.get("PORT"), CONTAINER_PORT, 1, 65535),
        "workers": integer("WEB_CONCURRENCY", environ.get("WEB_CONCURRENCY"),
                           default_workers(usable_cpus()), 1, 64),
        "threads": threads(environ),
        "timeout": integer("GUNICORN_TIMEOUT", environ.get("GUNICORN_TIMEOUT"), 30, 1, 3600),
        "auto_reload": flag("AUTO_RELOAD", environ.get("AUTO_RELOAD")),
        "forwarded_allow_ips": (environ.get("FORWARDED_ALLOW_IPS") or DEFAULTS["FORWARDED_ALLOW_IPS"]).strip(),
    }
