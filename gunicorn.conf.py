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

# PORT defaults to config.CONTAINER_PORT, the port the Dockerfile EXPOSEs.
bind = f"0.0.0.0:{_server['port']}"

workers = _server["workers"]
# One process per CPU, each with 8 threads: threads overlap the waits on the
# database, processes use the CPUs (default_workers() in board/config.py).
# Measured by `make bench` with gunicorn on a CPU of its own and PostgreSQL on
# another, as RDS is from EB (bench/results/latest.md):
# - against the seed's one sync worker per CPU, 2.3x to 3.1x the index's
#   throughput with the database 0.9 ms away and 1.55x to 1.9x with it 0.1 ms
#   away: a sync worker idles while it waits (against two sync workers per
#   CPU, 1.45x to 1.7x far);
# - 1 worker x 8 threads against 2 x 4 on one CPU: about 1.2x on the index and
#   1.4x on a page rendered from memory (no second address space to switch to);
# - with the database near, 4 to 12 threads all did the same; with it 0.85 ms
#   away, 4 threads gave 0.9x of 8, while 12 and 16 gave 1.0x to 1.09x over
#   two A/Bs: not enough to hold more connections to RDS for.
# gevent (with psycogreen) did no better than threads; a longer GIL switch
# interval changed nothing. Runs here vary by 20%.
# Each thread keeps one pooled connection (board/config.py), so an instance
# holds WEB_CONCURRENCY x GUNICORN_THREADS connections: size RDS's
# max_connections for every instance at once. Pin both per instance size.
threads = _server["threads"]
timeout = _server["timeout"]
# Shorter than EB's and Docker's stop grace (10 s), so in-flight requests end
# before a SIGKILL could arrive.
graceful_timeout = 8
keepalive = 5

# No control socket (gunicorn >= 25 opens one in $HOME by default): the image's user may not
# write its home, and nothing here drives gunicorn through gunicornc.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
# The response header: the id the app took from the request or made up.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'

# EB's nginx (and compose's port mapping) sit in front; trust their X-Forwarded-*.
forwarded_allow_ips = _server["forwarded_allow_ips"]

# Heartbeat files on tmpfs: a slow disk (EBS, overlayfs) can make workers look dead.
if os.path.isdir("/dev/shm"):  # noqa: S108 (tmpfs is the point; gunicorn creates private files)
    worker_tmp_dir = "/dev/shm"  # noqa: S108

# The libraries (never the board package) are imported once here in the master:
# forked workers share them, so a worker restarted by a reload only loads board's
# own modules (measured: about half of a worker's boot), and memory is shared.
for _library in ("flask", "flask_sqlalchemy", "flask_migrate", "flask_login", "flask_wtf", "sqlalchemy",
                 "sqlalchemy.dialects.postgresql.psycopg2", "email_validator", "alembic.script"):
    importlib.import_module(_library)

reload = _server["auto_reload"]
if reload:
    _root = Path(__file__).parent / "board"
    # Python modules are watched by the reloader itself; templates and static
    # files are not imported, so they are named here. gunicorn >= 26.1 expands
    # the globs again on every check, so files added later are watched too.
    reload_extra_files = [str(_root / "templates" / "**" / "*.html"), str(_root / "static" / "**")]
    try:
        import inotify.adapters  # noqa: F401

        reload_engine = "inotify"
    except ImportError:
        reload_engine = "poll"
