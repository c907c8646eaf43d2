"""The core's errors: one hierarchy, each carrying an HTTP-like status, a short code, and (where it
applies) the parameter, the bad value and what is allowed.

Every adapter renders them the same way without knowing which module raised one: the web
layer as the one JSON error shape (``web.errors``), the CLI as one line and exit status 2.

>>> err = ParameterError("district", "Atlantis", "a Qingdao district adcode or name")
>>> err.status, err.parameter, str(err)
(400, 'district', "district must be a Qingdao district adcode or name, got 'Atlantis'")
>>> NotFound("no facility with id 'x'", parameter="id", value="x").body()["error"]["status"]
404

A message may name other parameters as ``{name}`` or ``{name=value}`` (``spelled=True``): the API shows them as
its fields (``method=greedy``, ``min_spacing_m``), the CLI as its flags (``--method greedy``,
``--min-spacing-m``) through :meth:`DomainError.spelled`, so each interface speaks its own names:

>>> err = Unprocessable("too large: use {method=greedy} or a larger {min_spacing_m}", spelled=True)
>>> err.message
'too large: use method=greedy or a larger min_spacing_m'
>>> err.spelled(lambda name, value: "--" + name.replace("_", "-") + (f" {value}" if value is not None else ""))
'too large: use --method greedy or a larger --min-spacing-m'
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

__all__ = ["Conflict", "DomainError", "NotFound", "ParameterError", "TooLarge", "TooManyRequests", "Unavailable",
           "Unprocessable"]


#: A parameter named in a ``spelled`` message: ``{name}`` or ``{name=value}``.
_MENTION = re.compile(r"\{([a-z][a-z0-9_]*)(?:=([^{}]*))?\}")


def api_spelling(name: str, value: str | None = None) -> str:
    """How the HTTP API writes a parameter in a message: ``name`` or ``name=value``."""
    return name if value is None else f"{name}={value}"


class DomainError(Exception):
    """Base of every error a user may see. ``status``/``code`` default per subclass."""

    status = 400
    code = "bad_request"
    template: str | None = None  # a spelled message, with its {name} and {name=value} mentions

    def __init__(self, message: str, *, parameter: str | None = None, value: Any = None, allowed: Any = None,
                 details: list | None = None, code: str | None = None, status: int | None = None,
                 spelled: bool = False):
        self.template = message if spelled else None
        if spelled:
            message = _MENTION.sub(lambda m: api_spelling(m.group(1), m.group(2)), message)
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

    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries besides the body (``Retry-After`` of a 429); none by default."""
        return {}

    def spelled(self, spelling: Callable[[str, str | None], str]) -> str:
        """The message with the parameters it names written by ``spelling(name, value or None)``."""
        if self.template is None:
            return self.message
        return _MENTION.sub(lambda m: spelling(m.group(1), m.group(2)), self.template)

    def one_line(self, spelling: Callable[[str, str | None], str] | None = None) -> str:
        """For a terminal: the message (parameters written by ``spelling``, default the API's names), and what is
        allowed if the message does not say it."""
        message = self.message if spelling is None else self.spelled(spelling)
        if self.allowed is not None and str(self.allowed) not in message:
            return f"{message} (allowed: {self.allowed})"
        return message


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


class TooManyRequests(DomainError):
    """Too many requests from one client in a time window (worker reports): a 429 saying when to try again.

    >>> err = TooManyRequests("at most 5 reports in 10 minutes", retry_after_s=61.2)
    >>> err.status, err.headers()
    (429, {'Retry-After': '62'})
    """

    status, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after_s = max(1, math.ceil(retry_after_s))

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class Unavailable(DomainError):
    """A service the request needs (the registry database) cannot be reached: a 503."""

    status, code = 503, "unavailable"
