"""What the parameter declarations (``geo.params``, ``geo.registry_params``, ``geo.planner_params``)
cannot express: the request's query string as a plain mapping, the JSON body, and the values of the
``lookup`` parameters (known when the app runs). Validation itself is the declarations' (``Params.parse``):
every failure a :class:`geo.errors.ParameterError` naming parameter, value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs

from geo.params import UnknownParameter
from web.errors import ApiError

__all__ = ["QueryArgs", "json_object", "lookups"]


class QueryArgs(dict):
    """Request arguments as a plain dict of lists: a missing key costs nothing.

    (werkzeug's MultiDict.get builds a BadRequestKeyError for every missing key.)
    """

    @classmethod
    def of(cls, args) -> QueryArgs:
        if hasattr(args, "to_dict"):
            return cls(args.to_dict(flat=False))
        return cls({k: v if isinstance(v, list) else [v] for k, v in args.items()})

    @classmethod
    def from_environ(cls, environ: Mapping[str, Any]) -> QueryArgs:
        """A WSGI request's query string, decoded as werkzeug's ``request.args`` is (UTF-8, bad
        bytes replaced, blank values kept) without building a MultiDict first."""
        raw = environ.get("QUERY_STRING", "")
        if "%" in raw or "+" in raw or ";" in raw or not raw.isascii():
            raw = raw.encode("latin-1", "replace").decode("utf-8", "replace")
            return cls(parse_qs(raw, keep_blank_values=True))
        # plain ASCII with nothing to unquote (the common case, a page's or an app's request): split it
        args: dict[str, list[str]] = {}
        for pair in raw.split("&"):
            if pair:
                name, _, value = pair.partition("=")
                args.setdefault(name, []).append(value)
        return cls(args)

    @classmethod
    def from_request(cls) -> QueryArgs:
        """This (Flask) request's query string: see :meth:`from_environ`."""
        from flask import request

        return cls.from_environ(request.environ)

    def get(self, key, default=None):
        values = dict.get(self, key)
        return values[0] if values else default

    def getlist(self, key):
        return dict.get(self, key, [])


def lookups(st) -> dict[str, Mapping[str, str]]:
    """The values of the ``lookup`` parameters (``geo.registry_params``), known only at run time: the app's
    districts by adcode, Chinese and English name (``Params.parse(args, lookups=lookups(state()))``)."""
    return {"district": st.districts.lookup}


def json_object(allowed: Iterable[str], example: str) -> dict[str, Any]:
    """The request's JSON body as an object whose keys are all in ``allowed`` (else a 400)."""
    from flask import request

    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, f"body must be a JSON object such as {example}", code="invalid_body")
    allowed = set(allowed)
    unknown = sorted(k for k in body if k not in allowed)
    if unknown:
        raise UnknownParameter(unknown[0], allowed)
    return body
