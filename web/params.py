"""Request parameter parsing: every failure is an ApiError naming parameter, value and what is allowed."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs

import numpy as np

from geo.model import CITY_BOUNDS_TEXT, in_city_bounds
from web.errors import ApiError, bad_param

MAX_PARAM_LEN = 500


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
        raw = environ.get("QUERY_STRING", "").encode("latin-1", "replace").decode("utf-8", "replace")
        return cls(parse_qs(raw, keep_blank_values=True))

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


def reject_unknown(args: Mapping[str, str], allowed: Iterable[str]) -> None:
    allowed = set(allowed)
    unknown = sorted(k for k in args if k not in allowed)
    if unknown:
        raise ApiError(400, f"unknown parameter {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}",
                       code="unknown_parameter", parameter=unknown[0], allowed=sorted(allowed))


def text(args: Mapping[str, str], name: str, default: str | None = None, *, max_len: int = 100) -> str | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if len(raw) > max_len:
        raise bad_param(name, raw[:40] + "…", f"at most {max_len} characters")
    return raw


def choice(args: Mapping[str, str], name: str, allowed: Collection[str], default: str | None = None) -> str | None:
    """One value from ``allowed`` (a collection: tuple, dict keys …)."""
    raw = text(args, name, default)
    if raw is not None and raw not in allowed:
        raise bad_param(name, raw, f"one of {', '.join(allowed)}")
    return raw


def choices(args, name: str, allowed: Collection[str]) -> list[str]:
    """Comma-separated and/or repeated values, each from ``allowed`` (a collection: tuple, dict keys …)."""
    values: list[str] = []
    raws = args.getlist(name) if hasattr(args, "getlist") else ([args[name]] if name in args else [])
    for raw in raws:
        if len(raw) > MAX_PARAM_LEN:
            raise bad_param(name, raw[:40] + "…", f"at most {MAX_PARAM_LEN} characters")
        for v in (p.strip() for p in raw.split(",")):
            if not v:
                continue
            if v not in allowed:
                raise bad_param(name, v, f"one or more of {', '.join(allowed)}")
            if v not in values:
                values.append(v)
    return values


def number(args: Mapping[str, str], name: str, default: float | None = None, *, lo: float | None = None,
           hi: float | None = None, integer: bool = False, what: str = "") -> float | int | None:
    """A finite number (an int if ``integer``) within ``lo``..``hi``, else a 400 naming the parameter and the range.

    An integer too large for a float (``k=999…9``, hundreds of digits) is refused like any other
    out-of-range value: ``math.isfinite`` would raise OverflowError on it, and callers do float
    arithmetic with what they get.
    """
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
        if not math.isfinite(value):  # int -> float: OverflowError beyond ~1.8e308
            value = None
    except (TypeError, ValueError, OverflowError):  # ValueError also for ints of more than 4300 digits
        value = None
    if value is None or (lo is not None and value < lo) or (hi is not None and value > hi):
        kind = "an integer" if integer else "a number"
        rng = f" between {lo} and {hi}" if lo is not None and hi is not None else (
            f" ≥ {lo}" if lo is not None else (f" ≤ {hi}" if hi is not None else ""))
        raise bad_param(name, raw, f"{kind}{rng}{what}")
    return value


def boolean(args: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    v = raw.lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise bad_param(name, raw, "true or false")


def open_at(args: Mapping[str, str], name: str = "open_at"):
    """'now' (default) -> "now"; 'any' -> None (no hours filter); else an ISO 8601 date-time,
    returned as naive Qingdao local time (see geo.hours.parse_when).
    """
    from geo.hours import WHEN_ALLOWED, parse_when

    raw = text(args, name, "now", max_len=40)
    try:
        return parse_when(raw)
    except ValueError:
        raise bad_param(name, raw, WHEN_ALLOWED) from None


def lonlat(args: Mapping[str, str], bounds: Mapping[str, float]) -> tuple[float, float]:
    lon = number(args, "lon", lo=bounds["lon_min"], hi=bounds["lon_max"], what=" (Qingdao)")
    lat = number(args, "lat", lo=bounds["lat_min"], hi=bounds["lat_max"], what=" (Qingdao)")
    for name, v in (("lon", lon), ("lat", lat)):
        if v is None:
            raise ApiError(400, f"{name} is required", code="missing_parameter", parameter=name)
    return float(lon), float(lat)


def lonlat_pairs(raw: Any, name: str, limit: int) -> np.ndarray:
    """A JSON list of ``[lon, lat]`` pairs inside Qingdao as an (n, 2) array (else a 400 naming the
    parameter, or the first bad point as ``name[i]``)."""
    allowed = f"a non-empty list of [lon, lat] number pairs (at most {limit})"
    if not isinstance(raw, list) or not raw:
        raise bad_param(name, str(raw)[:60], allowed)
    if len(raw) > limit:
        raise bad_param(name, f"{len(raw)} points", allowed)
    try:
        arr = np.array(raw, dtype="float64")
    except (TypeError, ValueError):
        raise bad_param(name, str(raw)[:60], allowed) from None
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise bad_param(name, str(raw)[:60], allowed)
    outside = np.flatnonzero(~in_city_bounds(arr[:, 0], arr[:, 1]))
    if len(outside):
        i = int(outside[0])
        raise bad_param(f"{name}[{i}]", raw[i], f"[lon, lat] inside Qingdao ({CITY_BOUNDS_TEXT})")
    return arr


def json_object(allowed: Iterable[str], example: str) -> dict:
    """The request's JSON body as an object whose keys are all in ``allowed`` (else a 400)."""
    from flask import request

    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, f"body must be a JSON object such as {example}", code="invalid_body")
    reject_unknown(body, allowed)
    return body
