"""A lean WSGI route for the busiest request: ``GET /api/v1/nearest``.

For a JSON answer of a few kilobytes, Flask's per-request machinery (request context, URL
matching, response object, header handling, hooks) costs about as much as the whole
nearest search and serialisation. :class:`NearestFastPath` wraps the Flask app
(``app.wsgi_app``) and answers a well-formed ``GET /api/v1/nearest`` itself, calling the
very function the Flask view calls (:func:`web.nearest_api.nearest_payload`) with the same
registry-reload check before and the same headers (:mod:`web.security`) after.

Everything else goes to Flask unchanged: other routes and methods, and any nearest request
that fails — a bad parameter, or a bug — so that errors are rendered, logged and shaped by
the one error handler. ``tests/test_fastpath.py`` checks that both paths give the same
status, headers and body. ``bench/bench_nearest.py`` measures what it saves.
"""

from __future__ import annotations

import orjson

from web.nearest_api import nearest_payload
from web.params import QueryArgs
from web.security import CORS_HEADERS, FIXED_HEADERS
from web.state import AppState

__all__ = ["FAST_PATH", "NearestFastPath"]

FAST_PATH = "/api/v1/nearest"


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
        except Exception:  # noqa: BLE001 - Flask answers it again: the one error shape, logging
            return self.app(environ, start_response)
        start_response("200 OK", [*self.headers, ("Content-Length", str(len(body)))])
        return [body]
