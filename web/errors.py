"""One error shape for every error the web layer returns.

``{"error": {"status": 400, "code": "invalid_parameter", "message": "...",
"parameter": "lat", "value": "123.4", "allowed": "35.4..37.3"}}``. Internal
details (tracebacks, paths) go to the log, never into a response.

A :class:`geo.errors.ParameterError` raised anywhere in the core (an unknown district, demand,
facility id …) is a 400 in that shape wherever it surfaces, so no blueprint converts it itself.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from geo.errors import ParameterError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with an HTTP status and a message safe to show the user."""

    def __init__(self, status: int, message: str, *, code: str | None = None, parameter: str | None = None,
                 value: Any = None, allowed: Any = None, details: list | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or {400: "invalid_parameter", 404: "not_found"}.get(status, "error")
        self.parameter = parameter
        self.value = value
        self.allowed = allowed
        self.details = details

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"status": self.status, "code": self.code, "message": self.message}
        if self.parameter is not None:
            err["parameter"] = self.parameter
        if self.value is not None:
            err["value"] = str(self.value)[:200]
        if self.allowed is not None:
            err["allowed"] = self.allowed
        if self.details:
            err["details"] = self.details
        return {"error": err}


def bad_param(parameter: str, value: Any, allowed: Any, message: str | None = None) -> ApiError:
    shown = str(value)[:80]
    return ApiError(400, message or f"{parameter} must be {allowed}, got {shown!r}",
                    parameter=parameter, value=value, allowed=allowed)


def _render(err: ApiError):
    resp = jsonify(err.body())
    resp.status_code = err.status
    return resp


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return _render(err)

    @app.errorhandler(ParameterError)
    def _parameter_error(err: ParameterError):
        return _render(bad_param(err.parameter, err.value, err.allowed, str(err)))

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
