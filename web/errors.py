"""One error shape for every error the web layer returns.

``{"error": {"status": 400, "code": "invalid_parameter", "message": "...",
"parameter": "lat", "value": "123.4", "allowed": "35.4..37.3"}}``. Internal
details (tracebacks, paths) go to the log, never into a response.

Every :class:`geo.errors.DomainError` raised anywhere in the core (a bad parameter, a registry
change refused with its problems, an impossible plan, an unreachable database …) is rendered in
that shape with its own status by the one handler below, so no blueprint converts errors itself.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from geo.errors import DomainError, ParameterError

log = logging.getLogger(__name__)


class ApiError(DomainError):
    """An error only the web layer knows (authentication, a malformed body …), with its HTTP status."""

    def __init__(self, status: int, message: str, *, code: str | None = None, parameter: str | None = None,
                 value: Any = None, allowed: Any = None, details: list | None = None):
        super().__init__(message, parameter=parameter, value=value, allowed=allowed, details=details,
                         code=code or {400: "invalid_parameter", 404: "not_found"}.get(status, "error"), status=status)


def bad_param(parameter: str, value: Any, allowed: Any, message: str | None = None) -> ParameterError:
    shown = str(value)[:80]
    return ParameterError(parameter, value, allowed, message or f"{parameter} must be {allowed}, got {shown!r}")


def _render(err: DomainError):
    resp = jsonify(err.body())
    resp.status_code = err.status
    resp.headers.update(err.headers())  # e.g. a 429's Retry-After
    return resp


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain_error(err: DomainError):  # every error of geo.errors (and ApiError), from any blueprint
        if err.status >= 500:
            log.error("%s: %s", type(err).__name__, err)
        return _render(err)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        code = (err.name or "error").lower().replace(" ", "_")
        resp = _render(ApiError(err.code or 500, err.description or err.name, code=code))
        if isinstance(err, MethodNotAllowed) and err.valid_methods:
            resp.headers["Allow"] = ", ".join(sorted(err.valid_methods))  # RFC 9110 requires it on a 405
        return resp

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unhandled error")
        return _render(ApiError(500, "internal error; the details are in the server log", code="internal_error"))
