"""The production server's own pieces: the access logger matches gunicorn's for our format."""

from __future__ import annotations

import datetime
import io
import logging

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from web.prod import ACCESS_FORMAT, WORKER_CLASSES, AccessLogger, run_gunicorn


class _Response:
    def __init__(self, status, sent):
        self.status, self.sent, self.headers = status, sent, []


def _line(logger_class, resp, environ, took) -> str:
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("access_log_format", ACCESS_FORMAT)
    log = logger_class(cfg)
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.access_log.handlers = [handler]
    log.access(resp, [], environ, took)
    return buf.getvalue()


@pytest.mark.parametrize("status,sent,agent", [("200 OK", 9123, "wrk"), ("400 BAD REQUEST", 731, None),
                                               ("413 REQUEST ENTITY TOO LARGE", None, "curl/8 \"quoted\""),
                                               ("304 NOT MODIFIED", 0, "Mozilla/5.0 (中文)")])
def test_access_line_equals_gunicorns_for_our_format(status, sent, agent):
    environ = {"REMOTE_ADDR": "10.1.2.3", "REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1",
               "RAW_URI": "/api/v1/nearest?lon=120.38&lat=36.06&kind=%E9%A9%BF"}
    if agent is not None:
        environ["HTTP_USER_AGENT"] = agent
    took = datetime.timedelta(seconds=1, microseconds=2345)
    ours = _line(AccessLogger, _Response(status, sent), environ, took)
    assert ours == _line(Logger, _Response(status, sent), environ, took)
    assert ours.startswith('10.1.2.3 "GET /api/v1/nearest?') and "1002345us" in ours


def test_unknown_worker_class_is_refused():
    with pytest.raises(ValueError, match="worker_class must be one of gevent, sync, gthread, got 'tornado'"):
        run_gunicorn(host="127.0.0.1", port=0, workers=1, worker_class="tornado")
    assert set(WORKER_CLASSES) == {"gevent", "sync", "gthread"}
