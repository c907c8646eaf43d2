"""Production server: gunicorn, the app preloaded once in the master, then forked.

Worker classes (``serve --prod --worker-class``):

* ``gevent`` (default): gevent's HTTP server, one event loop per worker. Connections are
  kept alive (no TCP set-up per request) and served in turn: before each request the
  worker lets its loop poll, so a client whose next request is already waiting cannot
  keep the others out. A worker accepts one connection per wakeup, so a burst of new connections is spread
  over the workers (gevent's default, up to 100 at once, left one worker with all 32 of a load test's
  connections and the other idle in some runs). Nothing is monkey-patched: the app does no network I/O of its
  own, so only the server's sockets need to be cooperative. A slow request (a first
  coverage computation, a report) holds up that worker's other connections until done.
* ``sync``: one request at a time per worker, the connection closed after each.
* ``gthread``: a thread pool per worker (``--threads``), keep-alive.

``bench/bench_nearest.py`` measures them against each other.

After loading, the app's objects are moved out of the garbage collector's reach
(``gc.freeze``): a full collection over the ~100,000 objects of the loaded registry,
districts and demand grid takes ~50 ms, a pause every request in flight would wait for.

Logs: an access log line per request (with the time taken in microseconds) goes to
stdout; the app's own records go to stderr as JSON lines (level, logger, message, and
the exception text for errors) so a log shipper can parse them.

No control socket: gunicorn ≥ 25.1 opens one for ``gunicornc`` at a single path per user
(``$XDG_RUNTIME_DIR/gunicorn.ctl`` or ``~/.gunicorn/gunicorn.ctl``), so a second server on the
same machine takes it over and the first one to stop deletes the other's. We do not use
``gunicornc``; each server is stopped with a signal to its master.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import logging
import sys
import time

import gevent
import gevent.socket
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIServer

#: Access log format (gunicorn atoms): address, request line, status, bytes, time in µs, user agent.
ACCESS_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(D)sus "%(a)s"'
WORKER_CLASSES = {"gevent": "web.prod.FairGeventWorker", "sync": "sync", "gthread": "gthread"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_json_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("web", "geo"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False


class AccessLogger(Logger):
    """gunicorn's logger with a cheaper access line: exactly :data:`ACCESS_FORMAT`'s fields,
    without building gunicorn's dictionary of every atom and request header per request."""

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        sent = getattr(resp, "sent", None)
        line = f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}"
        self.access_log.info('%s "%s" %s %s %dus "%s"', _quoted(environ.get("REMOTE_ADDR", "-")), _quoted(line),
                             status, "-" if sent is None else sent,
                             request_time.seconds * 1_000_000 + request_time.microseconds,
                             _quoted(environ.get("HTTP_USER_AGENT", "-")))


def _quoted(text: str) -> str:
    """As gunicorn escapes log values: a client cannot close the quotes and forge fields."""
    return text.replace('"', '\\"')


class _OneAtATime(PyWSGIServer):
    """Accepts one connection per wakeup (gevent's default takes up to 100): the workers share one listening
    socket and all wake when clients connect, so a burst of connections (a proxy's keep-alive pool, a load test's
    32) is spread over them instead of piling onto whichever woke first while the other idles."""

    max_accept = 1


class FairGeventWorker(GeventPyWSGIWorker):
    """gevent's WSGI server, keep-alive, connections taking turns and spread over the workers (see the module
    docstring)."""

    server_class = _OneAtATime

    def patch(self):  # no monkey.patch_all(): only the listening sockets become gevent sockets
        self.sockets = [gevent.socket.socket(s.FAMILY, gevent.socket.SOCK_STREAM, fileno=s.sock.detach())
                        for s in self.sockets]

    def load_wsgi(self):
        super().load_wsgi()
        app = self.wsgi

        def taking_turns(environ, start_response):
            gevent.idle()  # let the loop poll first: every waiting connection gets its turn
            return app(environ, start_response)

        self.wsgi = taking_turns


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict, app_config: dict | None = None):
        self.options = options
        self.app_config = app_config
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:  # gunicorn ≥ 25.1 (see the module docstring)
            self.cfg.set("control_socket_disable", True)

    def load(self):
        from web import create_app

        configure_json_logging()
        app = create_app(self.app_config)
        # The display outlines too (another region's: from the data directory, else computed once in a child
        # process, geo.regions.outline_geojson): the workers share them, no request waits for them.
        app.extensions["workermap"].district_outlines  # noqa: B018
        # The nearest engine: a large registry's resident index (geo.store.resident) is read here, once, and its
        # arrays and records shared by the workers (nothing writes them, so copy-on-write never copies them).
        app.extensions["workermap"].snapshot.nearest_engine  # noqa: B018
        # The master loaded the registry; each forked worker opens its own database connections.
        app.extensions["workermap"].store.close()
        gc.collect()
        _trim_heap()  # what loading freed goes back to the system, not into every worker's inherited pages
        gc.freeze()  # the loaded data stays; collections look only at what requests allocate
        return app


def _trim_heap() -> None:
    """Return the C heap's free pages to the system (glibc ``malloc_trim``; elsewhere nothing): a forked worker's
    resident memory counts every page it inherits."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def run_gunicorn(*, host: str, port: int, workers: int, access_log: str | None = "-", worker_class: str = "gevent",
                 threads: int = 1, app_config: dict | None = None) -> None:
    """Serve ``create_app(app_config)`` under gunicorn (blocks). ``access_log=None`` turns the access log off.

    ``worker_class``: one of :data:`WORKER_CLASSES` (see the module docstring);
    ``threads`` applies to ``gthread`` only.
    """
    if worker_class not in WORKER_CLASSES:
        raise ValueError(f"worker_class must be one of {', '.join(WORKER_CLASSES)}, got {worker_class!r}")
    _Gunicorn({
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads if worker_class == "gthread" else 1,
        "worker_class": WORKER_CLASSES[worker_class],
        "preload_app": True,
        "accesslog": access_log,
        "access_log_format": ACCESS_FORMAT,
        "logger_class": AccessLogger,
        "errorlog": "-",
        "keepalive": 5,
        "timeout": 60,
    }, app_config).run()
