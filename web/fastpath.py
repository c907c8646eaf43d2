"""The one request path: every request, for every route, enters :class:`RequestPipeline`.

It does, in one place and in this order, what every request needs:

1. the registry-version check (``AppState.reload_if_changed``: a version committed by another
   worker or server is served within a second);
2. a *lean* handler when the route has one — today ``GET /api/v1/nearest``, the busiest: the
   very function the Flask view calls (:func:`web.nearest_api.nearest_payload`) on one snapshot,
   without Flask's per-request machinery (request context, URL matching, response object,
   hooks), which costs about as much as the whole search and serialisation — else Flask;
3. the same response headers (:func:`web.security.response_headers`: Content-Security-Policy for
   documents and scripts, nosniff, referrer policy, CORS for public reads) on every response, lean or Flask;
4. compression (:class:`web.compress.Compression`: Brotli or gzip, ``Vary``, encoded ``ETag``
   variants) of every text response, lean or Flask, to a request with ``Accept-Encoding``; a
   request without one passes by with one dict lookup.

A future hook (a limit, a request id) goes here and so applies to every route. A lean handler
that fails hands the request to Flask: a refusal (any ``geo.errors.DomainError``) quietly, so
that the one error handler renders the one error shape; anything else is a bug and is logged
here, with its traceback, first. ``tests/test_fastpath.py`` checks that both ways give the
same status, headers and body; ``bench/bench_nearest.py`` measures what the lean path saves.
"""

from __future__ import annotations

import logging

import orjson

from geo.errors import DomainError
from web.compress import Compression
from web.nearest_api import nearest_payload
from web.params import QueryArgs
from web.security import response_headers
from web.state import AppState

__all__ = ["FAST_PATH", "RequestPipeline"]

FAST_PATH = "/api/v1/nearest"

log = logging.getLogger(__name__)


def _nearest(environ, state: AppState) -> bytes:
    return orjson.dumps(nearest_payload(QueryArgs.from_environ(environ), state.snapshot))


class RequestPipeline:
    """WSGI: every request (see the module docstring); Flask (``app``) for routes without a lean handler."""

    #: (method, path) -> handler(environ, state) -> JSON bytes of a 200 answer.
    LEAN = {("GET", FAST_PATH): _nearest}

    def __init__(self, app, state: AppState):
        self.app = app  # the Flask WSGI app (every other request, and every failed lean one)
        self.state = state
        self._lean_headers = {key: [("Content-Type", "application/json"),
                                    *response_headers(*key, content_type="application/json")]
                              for key in self.LEAN}
        self.compression = Compression(self.serve)

    def __call__(self, environ, start_response):
        if "HTTP_ACCEPT_ENCODING" in environ:
            return self.compression(environ, start_response)
        return self.serve(environ, start_response)

    def serve(self, environ, start_response):
        """The request, uncompressed: the version check, then the lean handler or Flask."""
        self.state.reload_if_changed()
        key = (environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
        handler = self.LEAN.get(key)
        if handler is None:
            return self.app(environ, start_response)
        try:
            body = handler(environ, self.state)
        except DomainError:  # a refusal (bad request …): Flask renders the one error shape
            return self.app(environ, start_response)
        except Exception:  # noqa: BLE001 - a bug: log it, then let Flask answer (and log) it again
            log.exception("%s %s failed in its lean handler; falling back to Flask", *key)
            return self.app(environ, start_response)
        start_response("200 OK", [*self._lean_headers[key], ("Content-Length", str(len(body)))])
        return [body]
