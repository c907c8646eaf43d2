"""Parameters declared once: each is a :class:`Param` (name, type, limits, allowed values, default,
description); validation, the OpenAPI description and the CLI options are all derived from it.

The web layer parses query strings and JSON bodies with :meth:`Params.parse`; ``web.openapi``
documents a parameter with :meth:`Param.openapi`; the CLI builds its click options from the same
declarations (``cli.base.param_options``). Limits live in the geo module that owns them (``MAX_K``
in ``geo.nearest`` …) and are referenced here, never restated.

This module holds the machinery, the parameters several endpoints share and the nearest ones; the
planner's are in ``geo.planner_params``, those of the OGC API, /api/v1/facilities, /api/v1/export, the
admin API and the pages in ``geo.registry_params``.

>>> K = Param("k", "integer", "how many facilities", default=5, lo=1, hi=50)
>>> K.parse({"k": "7"}), K.parse({})
(7, 5)
>>> K.parse({"k": "99"})
Traceback (most recent call last):
...
geo.errors.ParameterError: k must be an integer between 1 and 50, got '99'
>>> Param("kind", "enum_list", "kinds", values=("station", "apartment")).parse({"kind": "station,apartment"})
('station', 'apartment')
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from geo.errors import ParameterError

__all__ = ["DEFAULT_SEARCH_LIMIT", "MAX_BATCH", "MAX_K", "MAX_PARAM_LEN", "MAX_RADIUS_M", "MAX_ROUTED_BATCH",
           "MAX_SEARCH_LIMIT", "NEAREST", "NEAREST_BATCH", "SEARCH", "SWAPPED_HINT", "TRAVEL", "TRAVEL_LIMITS",
           "TRAVEL_MODEL", "MissingParameter", "NotTogether", "Param", "Params", "UnknownParameter", "given",
           "parse_point"]

#: The longest single query value accepted (characters).
MAX_PARAM_LEN = 500
#: ``json``: a structured value (a JSON body member: a list of points, a GeoJSON object …) handed to
#: ``convert`` as it is; its schema is ``schema_extra``. Query strings give it as text.
#: ``numbers``: comma-separated numbers (``bbox=120.3,36.0,120.5,36.2``, ``near=lon,lat``), as many as
#: ``count`` allows, handed to ``convert`` as a tuple of floats.
TYPES = ("integer", "number", "boolean", "enum", "enum_list", "text", "json", "numbers")
#: An integer as text: ASCII digits with an optional sign (``int()`` alone would also take "٣" and "1_0").
_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*")


class MissingParameter(ParameterError):
    code = "missing_parameter"


class UnknownParameter(ParameterError):
    code = "unknown_parameter"

    def __init__(self, name: str, allowed: Iterable[str]):
        allowed = sorted(allowed)
        takes = f"allowed: {', '.join(allowed)}" if allowed else "this endpoint takes none"
        super().__init__(name, None, allowed, f"unknown parameter {name!r}; {takes}")
        self.value = None


def given(args: Mapping, name: str) -> bool:
    """Whether ``args`` gives ``name`` a value (absent, None and "" are not given: the default applies)."""
    raw = args.get(name)
    return raw is not None and raw != ""


def _all(args: Mapping, name: str) -> list:
    getlist = getattr(args, "getlist", None)
    if getlist is not None:
        return list(getlist(name))
    raw = args.get(name)
    if raw is None:
        return []
    return list(raw) if isinstance(raw, list | tuple) else [raw]


@dataclass(frozen=True)
class Param:
    """One parameter. ``values``: the allowed values of an ``enum``/``enum_list`` (a collection, a
    callable giving one, or a ``"module:NAME"`` reference to a table, read when needed: the command line
    lists such a table without importing its module, see ``cli.choices``); ``lo``/``hi``: the inclusive
    range of a number.

    A ``lookup`` parameter's values are known only at run time (the districts of the app's data): the
    caller passes them to :meth:`parse` as a mapping from each accepted text to the value it stands for.

    >>> DISTRICT = Param("district", "enum_list", "districts", lookup=True)
    >>> DISTRICT.parse({"district": "市南区,Shinan,370203"}, lookup={"370202": "370202", "市南区": "370202",
    ...                                                          "Shinan": "370202", "370203": "370203"})
    ('370202', '370203')
    >>> NEAR = Param("near", "numbers", "lon,lat", count=(2,))
    >>> NEAR.parse({"near": "120.38, 36.06"})
    (120.38, 36.06)
    >>> NEAR.parse({"near": "120.38"})
    Traceback (most recent call last):
    ...
    geo.errors.ParameterError: near must be 2 comma-separated numbers, got '120.38': 1 number
    """

    name: str
    type: str
    description: str
    default: Any = None
    lo: float | None = None
    hi: float | None = None
    values: Any = None
    required: bool = False
    max_len: int = 100
    #: Said after the range in messages, e.g. " (Qingdao)".
    where: str = ""
    #: An example value for the documentation.
    example: Any = None
    #: For ``text``: turns the text into the value (a ``ValueError`` is a 400 naming the parameter).
    convert: Callable[[str], Any] | None = None
    #: What is allowed, in words, when the type does not say it (with ``convert``).
    allowed_text: str = ""
    extra_doc: dict = field(default_factory=dict)
    #: Added to the JSON schema of a value (``format``, ``pattern`` …; the whole schema of a ``json`` parameter).
    schema_extra: dict = field(default_factory=dict)
    #: For ``numbers``: how many numbers may be given (e.g. ``(4, 6)``).
    count: tuple[int, ...] = ()
    #: For ``enum``/``enum_list``: the allowed values are given to :meth:`parse` (see the class docstring).
    lookup: bool = False

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"type must be one of {', '.join(TYPES)}, got {self.type!r}")

    # -- what is allowed -----------------------------------------------------------------------
    def allowed_values(self) -> tuple[str, ...]:
        values = self.values
        if isinstance(values, str):  # "module:NAME"
            module, _, name = values.partition(":")
            values = getattr(importlib.import_module(module), name)
        values = values() if callable(values) else values
        return tuple(values or ())

    @cached_property
    def _allowed_set(self) -> frozenset[str]:
        """The allowed values for membership checks (read once: the tables do not change while running)."""
        return frozenset(self.allowed_values())

    def allowed(self, lookup: Mapping | None = None) -> str:
        """What is allowed, in words (the ``allowed`` of an error; ``lookup``: see the class docstring)."""
        if lookup is not None:
            canonical = ", ".join(dict.fromkeys(lookup.values()))
            many = "one or more of" if self.type == "enum_list" else "one of"
            return f"{self.allowed_text}, {many} {canonical}" if self.allowed_text else f"{many} {canonical}"
        if self.allowed_text:
            return self.allowed_text
        if self.type == "numbers":
            return f"{' or '.join(map(str, self.count))} comma-separated numbers"
        if self.type in ("integer", "number"):
            kind = "an integer" if self.type == "integer" else "a number"
            lo, hi = self.lo, self.hi
            rng = (f" between {_num(lo)} and {_num(hi)}" if lo is not None and hi is not None else
                   f" ≥ {_num(lo)}" if lo is not None else f" ≤ {_num(hi)}" if hi is not None else "")
            return f"{kind}{rng}{self.where}"
        if self.type == "boolean":
            return "true or false"
        if self.type == "enum":
            return f"one of {', '.join(self.allowed_values())}"
        if self.type == "enum_list":
            return f"one or more of {', '.join(self.allowed_values())}"
        return f"at most {self.max_len} characters"

    # -- parsing -------------------------------------------------------------------------------
    def parse(self, args: Mapping, lookup: Mapping | None = None) -> Any:
        """The value of this parameter in ``args`` (query args, a mapping of strings, or a JSON body),
        the default if absent or empty; a :class:`ParameterError` naming it if invalid. ``lookup``: the
        values of a ``lookup`` parameter (see the class docstring)."""
        if self.lookup and lookup is None:
            raise TypeError(f"{self.name} is a lookup parameter: parse it with its values (lookup=...)")
        if self.type == "enum_list":
            return self._parse_list(args, lookup)
        if self.type == "json":
            return self._parse_json(args)
        raw = args.get(self.name)
        if raw is None or raw == "":
            if self.required:
                raise MissingParameter(self.name, None, self.allowed(), f"{self.name} is required")
            return self._default_value
        if isinstance(raw, bool | int | float) and not isinstance(raw, bool) and self.type in ("integer", "number"):
            return self._number(raw, raw)
        if isinstance(raw, bool) and self.type == "boolean":
            return raw
        text = str(raw)
        if self.type in ("integer", "number"):
            return self._number(text, text)
        if len(text) > self.max_len:
            raise ParameterError(self.name, text[:40] + "…", f"at most {self.max_len} characters")
        if self.type == "boolean":
            v = text.lower()
            if v in ("1", "true", "yes", "on"):
                return True
            if v in ("0", "false", "no", "off"):
                return False
            raise ParameterError(self.name, text, self.allowed())
        if self.type == "numbers":
            return self._numbers(text)
        if self.type == "enum":
            if text not in (self._allowed_set if lookup is None else lookup):
                raise ParameterError(self.name, text, self.allowed(lookup))
            if lookup is not None:
                return lookup[text]
        return self._converted(text)

    def _numbers(self, text: str) -> Any:
        try:
            numbers = tuple(float(v) for v in text.split(","))
            if not all(math.isfinite(v) for v in numbers):
                raise ValueError
        except ValueError:
            raise ParameterError(self.name, text, self.allowed(),
                                 f"{self.name} must be {self.allowed()}, got {text[:80]!r}: a value is not a "
                                 "number") from None
        if self.count and len(numbers) not in self.count:
            n = len(numbers)
            raise ParameterError(self.name, text, self.allowed(), f"{self.name} must be {self.allowed()}, got "
                                 f"{text[:80]!r}: {n} number{'' if n == 1 else 's'}")
        if self.convert is None:
            return numbers
        try:
            return self.convert(numbers)
        except ValueError as exc:  # the converter's message says what is wrong
            if isinstance(exc, ParameterError):
                raise
            detail = f": {exc}" if str(exc) else ""
            raise ParameterError(self.name, text, self.allowed(),
                                 f"{self.name} must be {self.allowed()}, got {text[:80]!r}{detail}") from None

    def _parse_json(self, args: Mapping) -> Any:
        raw = args.get(self.name)
        if raw is None or raw == "":
            return self.default
        try:
            return self.convert(raw) if self.convert is not None else raw
        except ValueError as exc:
            if isinstance(exc, ParameterError):  # the converter named the item (``candidates[3]``)
                raise
            raise ParameterError(self.name, str(raw)[:60], self.allowed()) from None

    @cached_property
    def _default_value(self) -> Any:
        """The default as parsed (converted once: a converter must not depend on the time it runs)."""
        return self._converted(self.default) if isinstance(self.default, str) else self.default

    def _converted(self, text: str) -> Any:
        if self.convert is None:
            return text
        try:
            return self.convert(text)
        except ValueError as exc:
            if isinstance(exc, ParameterError):  # the converter wrote its own message
                raise
            raise ParameterError(self.name, text, self.allowed()) from None

    def _number(self, raw: Any, shown: Any) -> int | float:
        try:
            if self.type == "integer":
                if (isinstance(raw, float) and not raw.is_integer()) or (
                        isinstance(raw, str) and not _INTEGER.fullmatch(raw)):
                    raise ValueError
                value = int(raw) if not isinstance(raw, str) else int(raw.strip())
            else:
                value = float(raw)
            if not math.isfinite(value):  # int -> float: OverflowError beyond ~1.8e308
                raise ValueError
        except (TypeError, ValueError, OverflowError):  # ValueError also for ints of more than 4300 digits
            value = None
        if value is None or (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise ParameterError(self.name, shown, self.allowed())
        return value

    def _parse_list(self, args: Mapping, lookup: Mapping | None = None) -> tuple[str, ...]:
        allowed = self._allowed_set if lookup is None else lookup
        values: list[str] = []
        for raw in _all(args, self.name):
            raw = str(raw)
            if len(raw) > MAX_PARAM_LEN:
                raise ParameterError(self.name, raw[:40] + "…", f"at most {MAX_PARAM_LEN} characters")
            for v in (p.strip() for p in raw.split(",")):
                if not v:
                    continue
                if v not in allowed:
                    raise ParameterError(self.name, v, self.allowed(lookup))
                if lookup is not None:
                    v = lookup[v]
                if v not in values:
                    values.append(v)
        return tuple(values) if values else tuple(self.default or ())

    # -- documentation -------------------------------------------------------------------------
    def schema(self, values: Iterable[str] | None = None) -> dict[str, Any]:
        """The JSON schema of one value (OpenAPI 3.0); ``values``: those of a ``lookup`` parameter (without
        them, any string)."""
        if self.lookup:
            item = {"type": "string"} if values is None else {"type": "string", "enum": list(values)}
            s = {"type": "array", "items": item} if self.type == "enum_list" else item
        elif self.type in ("integer", "number"):
            s: dict[str, Any] = {"type": self.type}
            if self.lo is not None:
                s["minimum"] = self.lo
            if self.hi is not None:
                s["maximum"] = self.hi
        elif self.type == "boolean":
            s = {"type": "boolean"}
        elif self.type == "enum":
            s = {"type": "string", "enum": list(self.allowed_values())}
        elif self.type == "enum_list":
            s = {"type": "array", "items": {"type": "string", "enum": list(self.allowed_values())}}
        elif self.type == "json":
            s = {}
        elif self.type == "numbers":
            s = {"type": "array", "items": {"type": "number"}}
            if len(self.count) == 1:
                s.update(minItems=self.count[0], maxItems=self.count[0])
            elif self.count:
                s["oneOf"] = [{"minItems": n, "maxItems": n} for n in self.count]
        else:
            s = {"type": "string", "maxLength": self.max_len}
        if self.default is not None and self.default != ():
            s["default"] = list(self.default) if isinstance(self.default, tuple) else self.default
        s.update(self.schema_extra)
        return s

    def openapi(self, values: Iterable[str] | None = None) -> dict[str, Any]:
        """This parameter as an OpenAPI 3.0 query parameter object (``values``: see :meth:`schema`)."""
        doc: dict[str, Any] = {"name": self.name, "in": "query", "required": self.required,
                               "description": self.description, "schema": self.schema(values)}
        if self.type in ("enum_list", "numbers"):  # comma-separated
            doc.update(style="form", explode=False)
        if self.example is not None:
            doc["example"] = self.example
        doc.update(self.extra_doc)
        return doc


def _num(x: float) -> str:
    return str(x)


@dataclass(frozen=True)
class NotTogether:
    """A rule between parameters: ``second`` may not be given with ``first`` (a 400 naming ``second``).

    >>> rule = NotTogether("minutes", "threshold_m")
    >>> rule.check({"minutes": "15", "threshold_m": "900"})
    Traceback (most recent call last):
    ...
    geo.errors.ParameterError: threshold_m must be given alone: pass minutes or threshold_m, not both, got '900'
    """

    first: str
    second: str
    allowed_text: str = ""

    @property
    def names(self) -> tuple[str, str]:
        return self.first, self.second

    def check(self, args: Mapping) -> None:
        if given(args, self.first) and given(args, self.second):
            allowed = self.allowed_text or f"given alone: pass {self.first} or {self.second}, not both"
            raise ParameterError(self.second, args.get(self.second), allowed)


class Params:
    """An endpoint's (or a command's) parameters, in order; each declared once; ``rules`` between them
    (:class:`NotTogether`) are checked by :meth:`parse` and kept by every set made from this one."""

    def __init__(self, *params: Param | Params, rules: Iterable[NotTogether] = ()):
        flat: list[Param] = []
        kept: list[NotTogether] = []
        for p in params:
            flat.extend(p.params if isinstance(p, Params) else [p])
            kept.extend(p.rules if isinstance(p, Params) else ())
        self.params = tuple(flat)
        self.by_name = {p.name: p for p in self.params}
        if len(self.by_name) != len(self.params):
            raise ValueError("a parameter is declared twice")
        self.rules = tuple(dict.fromkeys([*kept, *rules]))

    def __iter__(self):
        return iter(self.params)

    def __getitem__(self, name: str) -> Param:
        return self.by_name[name]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.by_name)

    def without(self, *names: str) -> Params:
        return Params(*(p for p in self.params if p.name not in names),
                      rules=[r for r in self.rules if not set(r.names) & set(names)])

    def replacing(self, *params: Param) -> Params:
        """These parameters with some declarations swapped for variants of the same name (same place)."""
        new = {p.name: p for p in params}
        missing = set(new) - set(self.by_name)
        if missing:
            raise ValueError(f"no parameter {', '.join(sorted(missing))} to replace")
        return Params(*(new.get(p.name, p) for p in self.params), rules=self.rules)

    def reject_unknown(self, args: Mapping, *also: str) -> None:
        names = self.by_name
        unknown = sorted(k for k in args if k not in names and k not in also)
        if unknown:
            raise UnknownParameter(unknown[0], set(names) | set(also))

    def reject_empty(self, args: Mapping) -> None:
        """Refuse a parameter given without a value (``bbox=``): where an empty value is not the default."""
        for name in args:
            if any(not str(v).strip() for v in _all(args, name)):
                raise ParameterError(name, "", "a value (or leave the parameter out)",
                                     f"{name} is empty; give it a value or leave it out")

    def parse(self, args: Mapping, *, also: Iterable[str] = (), check_unknown: bool = True, allow_empty: bool = True,
              lookups: Mapping[str, Mapping] | None = None) -> dict[str, Any]:
        """Every parameter's value (``also``: other names the caller reads itself; ``allow_empty=False``:
        see :meth:`reject_empty`; ``lookups``: the values of the ``lookup`` parameters, by name)."""
        if check_unknown:
            self.reject_unknown(args, *also)
        if not allow_empty:
            self.reject_empty(args)
        lookups = lookups or {}
        values = {p.name: p.parse(args, lookups.get(p.name)) if p.lookup else p.parse(args) for p in self.params}
        for rule in self.rules:
            rule.check(args)
        return values

    def openapi(self, lookups: Mapping[str, Iterable[str]] | None = None) -> list[dict[str, Any]]:
        """The parameters as OpenAPI query parameters (``lookups``: the values of ``lookup`` parameters)."""
        lookups = lookups or {}
        return [p.openapi(lookups.get(p.name)) for p in self.params]

    def json_properties(self, lookups: Mapping[str, Iterable[str]] | None = None) -> dict[str, dict[str, Any]]:
        """The parameters as the properties of a JSON request body."""
        lookups = lookups or {}
        return {p.name: {**p.schema(lookups.get(p.name)), "description": p.description} for p in self.params}


# ------------------------------------------------------------------------------------------------
# The limits, and the parameters several endpoints and commands share. Vocabularies come from
# geo.vocab (light); nothing here imports numpy, so the command line can build its options fast.

from geo import vocab  # noqa: E402

#: Most facilities one nearest query returns.
MAX_K = 50
#: Largest search radius, metres.
MAX_RADIUS_M = 200_000
#: Most points in one batch nearest request.
MAX_BATCH = 10_000
#: Most points in one batch nearest request by a routed travel model (land, network: each point is re-ranked by
#: route, a bounded search per point and mode).
MAX_ROUTED_BATCH = 200
#: Travel assumptions a request may set, (lowest, highest).
TRAVEL_LIMITS: dict[str, tuple[float, float]] = {"detour_factor": (1.0, 5.0), "walk_kmh": (1.0, 10.0),
                                                 "ebike_kmh": (5.0, 40.0)}
#: What ``open_at`` accepts (see ``geo.hours.parse_when``).
WHEN_ALLOWED = ("an ISO 8601 date-time in years 1-9999 such as 2026-11-24T23:40 (Qingdao time) or "
                "2026-11-24T15:40Z, or 'now', or 'any'")


def _parse_when(text: str):
    from geo.hours import parse_when

    return parse_when(text)


_B = vocab.CITY_BOUNDS
LON = Param("lon", "number", "Longitude of the worker (in the datum given by crs).", lo=_B["lon_min"],
            hi=_B["lon_max"], where=" (Qingdao)", required=True, example=120.3843)
LAT = Param("lat", "number", "Latitude of the worker.", lo=_B["lat_min"], hi=_B["lat_max"], where=" (Qingdao)",
            required=True, example=36.062)
KIND = Param("kind", "enum_list", "Facility kinds (any of them).", values=lambda: tuple(vocab.KINDS))
AMENITY = Param("amenity", "enum_list", "Amenities required (all of them).", values=lambda: tuple(vocab.AMENITIES))
WORKER = Param("worker", "enum", "Who asks: only facilities this worker may enter.",
               values=lambda: tuple(vocab.WORKER_TYPES))
OPEN_AT = Param("open_at", "text", "ISO 8601 date-time (no offset = Qingdao time), 'now' (default) or 'any' "
                "(no opening-hours filter).", default="now", max_len=40, convert=_parse_when,
                allowed_text=WHEN_ALLOWED)
INCLUDE_CLOSED = Param("include_closed", "boolean", "Also temporarily closed and under-maintenance facilities "
                       "(flagged).", default=False)
OPEN_24H = Param("open_24h", "boolean", "Only facilities open round the clock (24/7).", default=False)
INCLUDE_UNKNOWN_HOURS = Param("include_unknown_hours", "boolean", "Let the hours filters (open_at, open_24h) keep "
                              "facilities whose opening hours are unknown (hours_known false, open_now null); by "
                              "default they never count as open.", default=False)
CRS = Param("crs", "enum", "Datum of the given point(s) and of the returned lon/lat.", default="wgs84",
            values=vocab.DATUMS)
TRAVEL = Params(*(Param(name, "number", text, lo=lo, hi=hi) for (name, (lo, hi)), text in zip(
    TRAVEL_LIMITS.items(), ("Straight line × this = route length (default from the settings).",
                            "Walking speed, km/h (default from the settings).",
                            "E-bike speed, km/h (default from the settings)."), strict=True)))
#: How distances and minutes are measured (``geo.travel``): declared once, for nearest (default straight) and,
#: with the planner's default, for every planner answer (``geo.planner_params.PLANNER_TRAVEL``).
TRAVEL_MODEL = Param("travel", "enum", "Travel model: straight (straight line × detour_factor at the mode's speed), "
                     "land (shortest path over land at the mode's speed: never across the sea) or network (shortest "
                     "path along the imported OpenStreetMap roads, the snap legs walked; distance_m along the route; "
                     "needs `workermap osm import FILE.osm.pbf`, else a 400). Every answer states the model used "
                     "(travel).", default="straight", values="geo.travel:TRAVEL_MODELS")
NEAREST = Params(
    LON, LAT,
    Param("k", "integer", "How many facilities.", default=5, lo=1, hi=MAX_K),
    Param("radius_m", "number", "Flag (within_radius) the facilities within this many metres.", lo=1,
          hi=MAX_RADIUS_M),
    KIND, AMENITY, OPEN_AT, WORKER, CRS, INCLUDE_CLOSED, OPEN_24H, INCLUDE_UNKNOWN_HOURS, TRAVEL, TRAVEL_MODEL,
)
#: The batch form: points in the body instead of lon/lat; no radius (it returns the k nearest of each point).
NEAREST_BATCH = NEAREST.without("lon", "lat", "radius_m")

#: Said when a point's two numbers fit Qingdao only the other way round.
SWAPPED_HINT = "lon and lat look swapped (lon comes first: Qingdao is near lon 120.4, lat 36.3)"


def parse_point(args: Mapping, lon: Param = LON, lat: Param = LAT) -> tuple[float, float]:
    """``lon`` and ``lat`` of ``args``: the one check of a point given as two numbers, for the API and the
    command line alike (each a number within Qingdao's bounds); a point that fits only the other way round is
    refused saying so.

    >>> parse_point({"lon": "120.38", "lat": "36.07"})
    (120.38, 36.07)
    >>> parse_point({"lon": "36.07", "lat": "120.38"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geo.errors.ParameterError: lon must be ... (Qingdao), got '36.07'; lon and lat look swapped (lon comes first...)
    """
    try:
        return lon.parse(args), lat.parse(args)
    except ParameterError as exc:
        if isinstance(exc, MissingParameter) or not _swapped(args.get(lon.name), args.get(lat.name)):
            raise
        raise ParameterError(exc.parameter, exc.value, exc.allowed, f"{exc.message}; {SWAPPED_HINT}") from None


def _swapped(raw_lon: Any, raw_lat: Any) -> bool:
    from geo.model import in_city_bounds

    try:
        x, y = float(raw_lon), float(raw_lat)
    except (TypeError, ValueError):
        return False
    return not in_city_bounds(x, y) and in_city_bounds(y, x)


#: Results of one place search: by default, and at most.
DEFAULT_SEARCH_LIMIT = 10
MAX_SEARCH_LIMIT = 50


def _search_text(text: str) -> str:
    text = text.strip()
    if not any(ch.isalnum() for ch in text):
        raise ValueError(text)
    return text


#: GET /api/v1/search and ``workermap search`` (geo.search).
SEARCH = Params(
    Param("q", "text", "What to find: a district, township, place or facility name or address, in Chinese, pinyin "
          "(tones and spaces optional) or English; small typos are forgiven.", required=True, max_len=MAX_PARAM_LEN,
          convert=_search_text, example="Shinan",
          allowed_text=f"1 to {MAX_PARAM_LEN} characters with at least one letter, digit or Chinese character"),
    Param("limit", "integer", "How many results, best first.", default=DEFAULT_SEARCH_LIMIT, lo=1,
          hi=MAX_SEARCH_LIMIT),
)
