"""gunicorn settings, the same locally, in compose and on Elastic Beanstalk.

Values come from the environment through board/config.py, loaded here by file
path: importing the `board` package would load the app into gunicorn's master
process, and workers forked after a reload would then run the old code.
"""

import importlib.util
import os
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location("_board_config", Path(__file__).parent / "board" / "config.py")
_config = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _config
_spec.loader.exec_module(_config)
try:
    _server = _config.server_config()
    # The app's settings too, here in the master: a worker that cannot boot
    # would otherwise be respawned forever instead of stopping with one line.
    _config.app_config(str(Path(__file__).parent / "instance"))
except _config.ConfigError as error:
    sys.exit(f"board: configuration error: {error}")

# PORT defaults to config.CONTAINER_PORT: the port the Dockerfile EXPOSEs and the
# one the Python platform's nginx forwards to when PORT is unset (Procfile).
bind = f"0.0.0.0:{_server['port']}"

workers = _server["workers"]
# One process per CPU, each with threads: threads overlap the waits on the
# database (a sync worker idles through them), processes use the CPUs
# (server_config() in board/config.py). `make bench` compares this with the
# seed's one sync worker per CPU: bench/results/latest.md.
# Each thread keeps one pooled connection (board/config.py), so an instance
# holds WEB_CONCURRENCY x GUNICORN_THREADS connections: size RDS's
# max_connections for every instance at once. Pin both per instance size.
threads = _server["threads"]
timeout = _server["timeout"]
# Shorter than EB's and Docker's stop grace (10 s), so in-flight requests end
# before a SIGKILL could arrive.
graceful_timeout = 8
keepalive = 5

accesslog = "-"
errorlog = "-"
# The response header: the id the app took from the request or made up.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'

# EB's nginx (and compose's port mapping) sit in front; trust their X-Forwarded-*.
forwarded_allow_ips = _server["forwarded_allow_ips"]

# No control socket (gunicorn >= 25's `gunicornc`, unused here): the master
# stops and restarts its thread around every fork, which delays each worker a
# reload starts, and its default path ($HOME/.gunicorn) is not writable in the
# image, so every worker start logged an error.
control_socket_disable = True

# Heartbeat files on tmpfs: a slow disk (EBS, overlayfs) can make workers look dead.
if os.path.isdir("/dev/shm"):  # noqa: S108 (tmpfs is the point; gunicorn creates private files)
    worker_tmp_dir = "/dev/shm"  # noqa: S108

# The libraries (never the board package) are imported once here in the master:
# forked workers share them, so a worker restarted by a reload only loads board's
# own modules, and memory is shared. tests/board/test_gunicorn.py checks that
# the app imports no library missing here.
LIBRARIES = ("flask", "flask_sqlalchemy", "flask_sqlalchemy.cli", "flask_migrate", "flask_migrate.cli", "flask_login",
             "flask_wtf", "sqlalchemy", "sqlalchemy.dialects.postgresql.psycopg2", "sqlalchemy.dialects.sqlite",
             "psycopg2.extensions", "psycopg2.extras", "email_validator", "alembic.script",
             "werkzeug.middleware.proxy_fix")
for _library in LIBRARIES:
    importlib.import_module(_library)

reload = _server["auto_reload"]
if reload:
    # Python modules are watched by the reloader itself. Templates are not
    # named: in development Flask reads a changed template again by itself
    # (TEMPLATES_AUTO_RELOAD, board/config.py), and static files are served
    # from disk, so neither restarts a worker.
    try:
        import inotify.adapters  # noqa: F401

        reload_engine = "inotify"
    except ImportError:
        reload_engine = "poll"

    # No kept-alive connections in development: a browser keeps one open to
    # the worker that served it, and a worker stopping for an edit would wait
    # for it (up to two seconds) before the new one is forked, answering a
    # request sent on it meanwhile with the old code.
    keepalive = 0

    def worker_int(worker):
        """gunicorn's reloader calls this as it stops a worker for an edit.

        gthread's loop would see the stop only at its next event, up to a
        second later, and would first take one more connection on the old
        code: wake it now, as its SIGTERM handler does, so it stops accepting.
        """
        queue = getattr(worker, "method_queue", None)
        if queue is not None:
            queue.defer(lambda: None)

    def worker_exit(server, worker):
        """A booted worker ends without Python's teardown.

        The new worker is forked only once the old one has been reaped, and
        freeing every module of a loaded app takes a noticeable part of a
        second, which an exiting process does not need. A worker that failed
        to boot exits normally, so its exit code still stops the master.
        """
        if worker.booted:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
