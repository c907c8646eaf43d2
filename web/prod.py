"""Production server: gunicorn with sync workers, the app preloaded once in the master.

Logs go to stderr: gunicorn's access log (one line per request, with the time taken
in microseconds) and the app's own records as JSON lines (level, logger, message,
and the exception text for errors) so a log shipper can parse them.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from gunicorn.app.base import BaseApplication

ACCESS_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(D)sus "%(a)s"'


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


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from web import create_app

        configure_json_logging()
        return create_app()


def run_gunicorn(*, host: str, port: int, workers: int, access_log: str | None = "-", threads: int = 1) -> None:
    """Serve ``create_app()`` under gunicorn (blocks). ``access_log=None`` turns the access log off.

    ``threads=1`` runs sync workers (one request at a time, connection closed after each);
    ``threads>1`` runs gthread workers, which keep connections alive between requests.
    """
    _Gunicorn({
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "sync" if threads == 1 else "gthread",
        "preload_app": True,
        "accesslog": access_log,
        "access_log_format": ACCESS_FORMAT,
        "errorlog": "-",
        "keepalive": 5,
        "timeout": 60,
    }).run()
