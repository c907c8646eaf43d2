"""A lean WSGI route for the busiest request: ``GET /api/v1/nearest``.

For a JSON answer of a few kilobytes, Flask's per-request machinery (request context, URL
matching, response object, header handling, hooks) costs about as much as the whole
nearest search and serialisation. :class:`NearestFastPath` wraps the Flask app
(``app.wsgi_app``) and answers a well-formed ``GET /api/v1/nearest`` itself, calling the
very function the Flask view calls (:func:`web.nearest_api.nearest_payload`) with the same
registry-reload check before and the same headers (:mod:`web.security`) after.

Everything else goes to Flask unchanged: other routes and methods, and any nearest request
that fails — a bad parameter, or a bug — so that errors are rendered, logged and shaped by
the one error handler. A refusal (any ``geo.errors.DomainError``) is expected and handed on
quietly; anything else is a bug and is logged here, with its traceback, before Flask answers:
it may be a bug of this path alone, which Flask's 200 would otherwise hide.
``tests/test_fastpath.py`` checks that both paths give the same status, headers and body.
``bench/bench_nearest.py`` measures what it saves.
"""

from __future__ import annotations

import logging

import orjson

from geo.errors import DomainError
from web.nearest_api import nearest_payload
from web.params import QueryArgs
from web.security import CORS_HEADERS, FIXED_HEADERS
from web.state import AppState

__all__ = ["FAST_PATH", "NearestFastPath"]

FAST_PATH = "/api/v1/nearest"

log = logging.getLogger(__name__)


class NearestFastPath:
    """WSGI middleware: ``GET /api/v1/nearest`` without Flask; everything else to ``app``."""

    def __init__(self, app, state: AppState):
        self.app = app  # the Flask WSGI app (for every other request, and for errors)
        self.state = state
        self.headers = [("Content-Type", "application/json"), *FIXED_HEADERS, *CORS_HEADERS]  # a public read

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != FAST_PATH or environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)
        try:
            self.state.reload_if_changed()
            body = orjson.dumps(nearest_payload(QueryArgs.from_environ(environ), self.state))
        except DomainError:  # a refusal (bad request …): Flask renders the one error shape
            return self.app(environ, start_response)
        except Exception:  # noqa: BLE001 - a bug: log it, then let Flask answer (and log) it again
            log.exception("GET %s failed in the fast path; falling back to Flask", FAST_PATH)
            return self.app(environ, start_response)
        start_response("200 OK", [*self.headers, ("Content-Length", str(len(body)))])
        return [body]
