"""gunicorn settings, the same locally, in compose and on Elastic Beanstalk.

Values come from the environment through board/config.py, loaded here by file
path: importing the `board` package would load the app into gunicorn's master
process, and workers forked after a reload would then run the old code.
"""

import contextlib
import errno
import importlib.util
import os
import selectors
import socket
import sys
import time
from functools import partial
from pathlib import Path

from gunicorn.workers.gthread import TConn, ThreadWorker

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

# The app, named here rather than on each command line: the Python platform puts
# the Procfile's command into a systemd unit as `/bin/sh -c "…"`, where quotes and
# parentheses would be one more thing to get wrong. A command line naming an
# app still wins over this.
wsgi_app = "board:create_app()"

# PORT defaults to config.CONTAINER_PORT: the port the Dockerfile EXPOSEs and the
# one the Python platform's nginx forwards to when PORT is unset (Procfile).
bind = f"0.0.0.0:{_server['port']}"

workers = _server["workers"]


class HeadFirstWorker(ThreadWorker):
    """gthread, except that a connection takes one of the threads only once its request head has arrived.

    gthread hands each new connection to a thread, which waits up to five seconds for a first byte and then
    reads the head with no time limit: a few connections that send nothing, or half a head, took every
    thread and the server answered no one (EB's nginx sends whole heads, but `make run` and compose face
    clients directly). Here the worker's own loop collects each head, from a new connection or a kept-alive
    one, without blocking, and closes a connection whose head is not complete within HEAD_TIMEOUT.
    """

    HEAD_TIMEOUT = _config.REQUEST_HEAD_TIMEOUT
    HEAD_END = (b"\r\n\r\n", b"\n\n")
    # A head this long is refused whole (EB's nginx takes no more than 32 KiB of headers): a client cannot
    # send most of one fast and hold a thread with the rest.
    HEAD_MAX = 64 * 1024
    TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    # How long a stopping worker keeps a kept-alive connection open for a request already on its way (answered
    # with "Connection: close"). gunicorn keeps one two seconds; behind nginx every stop then waited those two
    # seconds for nothing, as nginx parks idle upstream connections in its cache and an EB deployment stops the
    # app only once its instance has drained. Half a second still answers a client that keeps sending.
    STOP_LINGER = 0.5
    # A kept-alive connection already idle this long when the stop begins is closed at once, without the
    # linger: no request is on its way on it. Behind an ALB the instance has drained before its app stops, so
    # every connection is; under traffic nginx reuses its most recently used upstream connections first.
    STOP_IDLE = 1.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.heads = []  # connections whose head is on its way
        self.stop_seen = False
        self.idle_closed = False

    def accept(self, listener):
        try:
            sock, address = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, sock, address, listener.getsockname())  # a non-blocking socket
        if self.cfg.is_ssl:  # a TLS handshake is the thread's to do; this app serves plain HTTP
            sock.setblocking(True)
            self.enqueue_req(conn)
            return
        conn.init()  # the HTTP/1 parser, which the head is handed to
        self.await_head(conn)

    def on_client_socket_readable(self, conn, client):
        # A kept-alive connection's next request starts: it, too, waits for its whole head here.
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self.await_head(conn, readable=True)

    def finish_request(self, conn, fs):
        # A client that sent the start of its next request with the last one: the rest is awaited here, not
        # in a thread (gthread hands such a connection straight back to one).
        kept = self.alive and not fs.cancelled() and fs.exception() is None and fs.result() is True
        if kept and conn.parser is not None:
            buffered = conn.parser.unreader.buf.getvalue()
            if buffered and not any(end in buffered for end in self.HEAD_END):
                conn.parser.unreader.take_buffered()
                self.await_head(conn, head=buffered)
                return
        super().finish_request(conn, fs)
        if not self.alive:  # gthread keeps a connection answered while stopping open too, for its own linger
            self._cap_keepalive(time.monotonic() + self.STOP_LINGER)

    def await_head(self, conn, readable=False, head=b""):
        conn.sock.setblocking(False)
        conn.head, conn.timeout = head, time.monotonic() + self.HEAD_TIMEOUT
        self.heads.append(conn)
        if readable:
            self.take_head(conn)
        else:
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.read_head, conn))

    def read_head(self, conn, client):
        self.poller.unregister(client)
        self.take_head(conn)

    def take_head(self, conn):
        """Read what has come; hand the connection to a thread once the head is whole, else wait for more."""
        try:
            data = conn.sock.recv(self.HEAD_MAX)
        except (BlockingIOError, InterruptedError):
            data = None
        except OSError:
            data = b""
        if data == b"":  # closed before a whole head came, or after the answer to one too long
            self.heads.remove(conn)
            self.nr_conns -= 1
            conn.close()
            return
        if conn.head is None:  # refused: what still comes is read and dropped, so closing resets nothing
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.read_head, conn))
            return
        conn.head += data or b""
        whole = any(end in conn.head for end in self.HEAD_END)
        if not whole and len(conn.head) >= self.HEAD_MAX:
            conn.head = None
            with contextlib.suppress(OSError):
                conn.sock.send(self.TOO_LARGE)
                conn.sock.shutdown(socket.SHUT_WR)
        if not whole:
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.read_head, conn))
            return
        self.heads.remove(conn)
        conn.parser.unreader.unread(conn.head)
        conn.data_ready = True
        self.enqueue_req(conn)

    def _cap_keepalive(self, deadline):
        # gthread calls this as the stop begins, with its own (longer) deadline for every kept-alive connection.
        now = time.monotonic()
        if not self.idle_closed:  # once: a cap set here would read as idleness the next time
            self.idle_closed = True
            # Oldest first, so those set to now stay in front, as gthread needs; a timeout is last use + keepalive.
            for conn in self.keepalived_conns:
                if now - (conn.timeout - self.cfg.keepalive) >= self.STOP_IDLE:
                    conn.timeout = now
        super()._cap_keepalive(min(deadline, now + self.STOP_LINGER))

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        if not self.alive and not self.stop_seen:
            # Stopping: a connection that sent nothing is closed now, one halfway through a head gets as
            # long as a kept-alive one.
            self.stop_seen = True
            for conn in self.heads:
                conn.timeout = min(conn.timeout, now + (self.STOP_LINGER if conn.head else 0))
        for conn in [conn for conn in self.heads if conn.timeout <= now]:
            self.heads.remove(conn)
            self.poller.unregister(conn.sock)
            self.nr_conns -= 1
            conn.close()


worker_class = HeadFirstWorker
# One process per CPU, each with threads: threads overlap the waits on the
# database (a sync worker idles through them), processes use the CPUs
# (server_config() in board/config.py). `make bench` compares this with the
# seed's one sync worker per CPU: bench/results/latest.md.
# Each thread keeps one pooled connection (board/config.py), so an instance
# holds WEB_CONCURRENCY x GUNICORN_THREADS connections: size RDS's
# max_connections for every instance at once. Pin both per instance size.
threads = _server["threads"]
timeout = _server["timeout"]
# Shorter than Docker's stop grace (10 s; EB documents none of its own), so
# in-flight requests end before a SIGKILL could arrive.
graceful_timeout = 8
# Longer than nginx keeps an idle upstream connection for reuse (its upstream
# keepalive_timeout, 60 s by default, which the Docker platform's upstream block
# leaves as it is): nginx, not gunicorn, closes an idle connection, so nginx never
# sends a request on one gunicorn has just closed (a POST there is a 502; nginx
# retries only idempotent requests). docs/eb-platform.md, "Keep-alive, hop by hop".
keepalive = 75

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
             "werkzeug.middleware.proxy_fix", "disarm")
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
    """A booted worker ends without Python's teardown, its requests done.

    gunicorn calls this once the worker has finished its in-flight requests.
    Freeing every module of a loaded app takes a noticeable part of a second
    (seconds on a busy host), which an exiting process does not need, and it is
    waited for twice: a reload forks the new worker only once the old one has
    been reaped, and a stop (every deployment stops the old container before
    starting the new one) ends only when the master has reaped them all. A
    worker that failed to boot exits normally, so its exit code still stops the
    master.
    """
    if worker.booted:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def on_exit(server):
    """The master, stopped on request, ends without Python's teardown too.

    gunicorn calls this once every worker has gone, while it handles the stop a
    signal asked for (its loop's StopIteration); the libraries imported above
    would take the master as long to free as a worker. A halt for an error,
    such as a worker that could not boot, is handled on another path and keeps
    its exit status.
    """
    if isinstance(sys.exc_info()[1], StopIteration | KeyboardInterrupt):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
