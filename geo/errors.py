"""The core's errors: one hierarchy, each carrying an HTTP-like status, a short code, and (where it
applies) the parameter, the bad value and what is allowed.

Every adapter renders them the same way without knowing which module raised one: the web
layer as the one JSON error shape (``web.errors``), the CLI as one line and exit status 2.

>>> err = ParameterError("district", "Atlantis", "a Qingdao district adcode or name")
>>> err.status, err.parameter, str(err)
(400, 'district', "district must be a Qingdao district adcode or name, got 'Atlantis'")
>>> NotFound("no facility with id 'x'", parameter="id", value="x").body()["error"]["status"]
404
"""

from __future__ import annotations

from typing import Any

__all__ = ["Conflict", "DomainError", "NotFound", "ParameterError", "TooLarge", "Unavailable", "Unprocessable"]


class DomainError(Exception):
    """Base of every error a user may see. ``status``/``code`` default per subclass."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, parameter: str | None = None, value: Any = None, allowed: Any = None,
                 details: list | None = None, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.parameter = parameter
        self.value = value
        self.allowed = allowed
        self.details = details
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def body(self) -> dict[str, Any]:
        """The one error shape: ``{"error": {"status", "code", "message", [parameter, value, allowed, details]}}``."""
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

    def one_line(self) -> str:
        """For a terminal: the message, and what is allowed if the message does not say it."""
        if self.allowed is not None and str(self.allowed) not in self.message:
            return f"{self.message} (allowed: {self.allowed})"
        return self.message


class ParameterError(DomainError, ValueError):
    """A bad argument: names the parameter, the value and what is allowed (a 400)."""

    status = 400
    code = "invalid_parameter"

    def __init__(self, parameter: str, value, allowed: str, message: str | None = None):
        shown = value if not isinstance(value, str) else value[:80]
        super().__init__(message or f"{parameter} must be {allowed}, got {shown!r}", parameter=parameter,
                         value=value, allowed=allowed)


class NotFound(DomainError, LookupError):
    """What was asked for does not exist (a facility id, a version): a 404."""

    status, code = 404, "not_found"


class Conflict(DomainError):
    """The change clashes with what exists (a facility id already taken): a 409."""

    status, code = 409, "conflict"


class Unprocessable(DomainError):
    """Well-formed but not acceptable as asked (validation problems, an impossible plan): a 422."""

    status, code = 422, "unprocessable"


class TooLarge(DomainError):
    """More than the service takes in one request: a 413."""

    status, code = 413, "too_large"


class Unavailable(DomainError):
    """A service the request needs (the registry database) cannot be reached: a 503."""

    status, code = 503, "unavailable"
