"""Errors the pure core raises for bad arguments, shared by every ``geo`` module.

A :class:`ParameterError` names the parameter, the value and what is allowed, so each
adapter can report it in its own terms without knowing which module raised it: the web
layer renders every one as a 400 in the one JSON error shape (``web.errors``), the CLI as
a ``click.BadParameter``.
"""

from __future__ import annotations

__all__ = ["ParameterError"]


class ParameterError(ValueError):
    """A bad argument: names the parameter, the value and what is allowed (the web layer turns it into a 400).

    >>> err = ParameterError("district", "Atlantis", "a Qingdao district adcode or name")
    >>> err.parameter, str(err)
    ('district', "district must be a Qingdao district adcode or name, got 'Atlantis'")
    """

    def __init__(self, parameter: str, value, allowed: str, message: str | None = None):
        self.parameter = parameter
        self.value = value
        self.allowed = allowed
        super().__init__(message or f"{parameter} must be {allowed}, got {value!r}")
