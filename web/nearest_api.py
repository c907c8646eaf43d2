"""/api/v1/nearest: the nearest eligible facilities for a worker, one point or a batch."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from flask import Blueprint

from geo import datum
from geo.cn_calendar import CALENDAR_UNTIL
from geo.errors import ParameterError
from geo.inputs import lonlat_pairs
from geo.nearest import Travel
from geo.params import MAX_BATCH, MAX_ROUTED_BATCH, NEAREST, NEAREST_BATCH, TRAVEL, parse_point
from web import params, state
from web.hitjson import iso_minutes
from web.state import AppState

bp = Blueprint("nearest", __name__, url_prefix="/api/v1")

#: Single-point options the batch form does not take (it returns the k nearest of each point).
BATCH_IGNORES = ("lon", "lat", "radius_m")
QUERY_PARAMS = NEAREST.names


def travel_options(args, base: Travel) -> Travel:
    """Travel assumptions (``detour_factor``, ``walk_kmh``, ``ebike_kmh``) from ``args``, else ``base``'s."""
    if not any(args.get(name) for name in TRAVEL.names):
        return base  # the common case: nothing to parse or validate
    given = TRAVEL.parse(args, check_unknown=False)
    return Travel(**{name: getattr(base, name) if value is None else value for name, value in given.items()})


def body_args(body: dict, skip: tuple[str, ...] = ()) -> params.QueryArgs:
    """A JSON body's options as query-style strings (lists joined by commas, booleans lower-case)."""
    return params.QueryArgs.of({k: ",".join(map(str, v)) if isinstance(v, list) else str(v).lower()
                                if isinstance(v, bool) else str(v)
                                for k, v in body.items() if k not in skip and v is not None})


#: The options GET and POST share, without the travel assumptions (parsed by :func:`travel_options`).
_OPTIONS = NEAREST_BATCH.without(*TRAVEL.names)


#: The point itself: not part of an option set.
_POINT = frozenset(("lon", "lat"))


def _options(args: params.QueryArgs, base_travel: Travel) -> dict[str, Any]:
    """Parse the options shared by GET and POST (``args`` is query args or the JSON body as strings).

    Workers ask with few distinct option sets and many points: an answer is kept per raw option values
    (the point is not part of the key; a refused set raises again, nothing is kept for it).
    """
    return _parsed_options(tuple((n, tuple(v)) for n, v in args.items() if n not in _POINT), base_travel)


@lru_cache(maxsize=256)
def _parsed_options(key: tuple, base_travel: Travel) -> dict[str, Any]:
    args = params.QueryArgs({n: list(v) for n, v in key})
    o = _OPTIONS.parse(args, check_unknown=False)
    return {"k": o["k"], "radius_m": NEAREST["radius_m"].parse(args), "kinds": tuple(o["kind"]),
            "amenities": tuple(o["amenity"]), "worker": o["worker"], "open_at": o["open_at"],
            "include_closed": o["include_closed"], "open_24h": o["open_24h"], "crs": o["crs"],
            "include_unknown_hours": o["include_unknown_hours"], "travel": travel_options(args, base_travel),
            "travel_model": o["travel"]}


def _to_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    return (lon, lat) if crs == "wgs84" else datum.convert(lon, lat, src=crs, dst="wgs84")


def _used(opts: dict, at_text: str) -> dict[str, Any]:
    """The parameters an answer states: built once per option set (kept with the parsed options), then per
    request only the time the hours were evaluated at."""
    kept = opts.get("used")
    if kept is None:
        kept = opts["used"] = {
            "k": opts["k"], "radius_m": opts["radius_m"], "kind": opts["kinds"], "amenity": opts["amenities"],
            "worker": opts["worker"], "open_at": None, "hours_filter": opts["open_at"] is not None,
            "include_closed": opts["include_closed"], "open_24h": opts["open_24h"],
            "include_unknown_hours": opts["include_unknown_hours"], "crs": opts["crs"], **opts["travel"].as_dict(),
            "travel": opts["travel_model"]}
    used = kept.copy()  # the kept one is shared by requests: never handed out
    if opts["open_at"] is not None:
        used["open_at"] = at_text
    return used


def travel_object(st: AppState, opts: dict) -> dict[str, Any]:
    """What an answer states about its travel model (``geo.travel.TravelContext.describe``: the walking trip; e-bike
    minutes by the same model), kept with the parsed options (per travel context: one per app)."""
    context = st.travel_context
    kept = opts.get("travel_object")
    if kept is None or kept[0] is not context:
        kept = opts["travel_object"] = (context, context.describe(opts["travel_model"], "walk", opts["travel"]))
    return kept[1]


def _routing(st: AppState, opts: dict) -> dict[str, Any]:
    """The travel-model arguments of ``FacilityIndex.query`` (nothing for straight: its path stays as it was)."""
    model = opts["travel_model"]
    return {} if model == "straight" else {"travel_model": model, "context": st.travel_context}


#: The two calendar fields of an answer, for the days the calendar covers and for the others.
_CALENDAR = {covered: {"calendar_until": CALENDAR_UNTIL.isoformat(), "calendar_covered": covered}
             for covered in (True, False)}


def _calendar(at) -> dict[str, Any]:
    """``calendar_until`` (the last day China's holiday calendar covers) and ``calendar_covered`` (whether
    the evaluated day is within it: beyond it no day counts as a public holiday)."""
    return _CALENDAR[at.date() <= CALENDAR_UNTIL]


def nearest_payload(args: params.QueryArgs, st: AppState) -> dict[str, Any]:
    """The answer to ``GET /api/v1/nearest?…`` (raises ApiError on bad input); used by the view
    below and by the WSGI fast path (:mod:`web.fastpath`)."""
    NEAREST.reject_unknown(args)
    opts = _options(args, st.travel)
    lon_in, lat_in = parse_point(args)  # the one point check (geo.params): a swapped pair is named
    lon, lat = _to_wgs84(lon_in, lat_in, opts["crs"])
    encoder = st.hit_encoder
    res = encoder.index.query(lon, lat, k=opts["k"], radius_m=opts["radius_m"], kinds=opts["kinds"],
                              amenities=opts["amenities"], worker=opts["worker"], open_at=opts["open_at"],
                              include_closed=opts["include_closed"], open_24h=opts["open_24h"],
                              travel=opts["travel"], include_unknown_hours=opts["include_unknown_hours"],
                              **_routing(st, opts))
    at_text = iso_minutes(res.at)
    return {
        "query": {"lon": lon_in, "lat": lat_in, "crs": opts["crs"], "lon_wgs84": round(lon, 7),
                  "lat_wgs84": round(lat, 7)},
        "parameters": _used(opts, at_text),
        "travel": travel_object(st, opts),
        "evaluated_at": at_text,
        **_calendar(res.at),
        "eligible": res.eligible,
        "sample": st.registry.is_sample,
        "count": len(res.hits),
        "hits": encoder.hits(res.hits, opts["crs"], (lon, lat)),
    }


@bp.get("/nearest")
def nearest():
    """The k nearest eligible facilities to one point."""
    return nearest_payload(params.QueryArgs.from_request(), state())


@bp.post("/nearest")
def nearest_batch():
    """Batch form: ``{"points": [[lon, lat], ...], "k": 1, ...}`` -> per point ids and distances."""
    body = params.json_object(set(NEAREST_BATCH.names) | {"points"}, '{"points": [[120.38, 36.06]]}')
    st = state()
    opts = _options(body_args(body, skip=("points",)), st.travel)
    arr = lonlat_pairs(body.get("points"), "points", MAX_BATCH)
    lon, lat = arr[:, 0], arr[:, 1]
    if opts["crs"] != "wgs84":
        lon, lat = datum.convert(lon, lat, src=opts["crs"], dst="wgs84")
    if opts["travel_model"] != "straight":
        return _routed_batch(st, opts, lon, lat)
    travel, engine = opts["travel"], st.batch_engine
    dist, fidx, when, eligible = engine.query_batch(
        lon, lat, k=opts["k"], kinds=opts["kinds"], amenities=opts["amenities"], worker=opts["worker"],
        open_at=opts["open_at"], include_closed=opts["include_closed"], open_24h=opts["open_24h"],
        include_unknown_hours=opts["include_unknown_hours"])
    walk, ebike = travel.minutes(dist, travel.walk_kmh), travel.minutes(dist, travel.ebike_kmh)
    results = [
        [{"id": engine.facility_id(i), "distance_m": round(float(dist[r, c]), 1),
          "walk_min": round(float(walk[r, c]), 1), "ebike_min": round(float(ebike[r, c]), 1)}
         for c, i in enumerate(row) if i >= 0]
        for r, row in enumerate(fidx)
    ]
    at_text = iso_minutes(when)
    return {"parameters": _used(opts, at_text), "travel": travel_object(st, opts), "evaluated_at": at_text,
            **_calendar(when), "eligible": eligible, "count": len(results),
            "distance": engine.BATCH_DISTANCE, "results": results}


def _routed_batch(st: AppState, opts: dict, lon, lat) -> dict[str, Any]:
    """The batch by a routed model: each point's k nearest by route (``FacilityIndex.query``, re-ranked)."""
    if len(lon) > MAX_ROUTED_BATCH:
        raise ParameterError("points", f"{len(lon)} points", f"at most {MAX_ROUTED_BATCH} points with travel="
                             f"{opts['travel_model']} (each is re-ranked by route), or travel=straight")
    index, results, res = st.index, [], None
    for x, y in zip(lon.tolist(), lat.tolist(), strict=True):
        res = index.query(x, y, k=opts["k"], kinds=opts["kinds"], amenities=opts["amenities"], worker=opts["worker"],
                          open_at=opts["open_at"], include_closed=opts["include_closed"], open_24h=opts["open_24h"],
                          travel=opts["travel"], include_unknown_hours=opts["include_unknown_hours"],
                          **_routing(st, opts))
        results.append([{"id": h.facility.id, "distance_m": round(h.distance_m, 1), "walk_min": round(h.walk_min, 1),
                         "ebike_min": round(h.ebike_min, 1) if math.isfinite(h.ebike_min) else None}
                        for h in res.hits])
    when = res.at
    at_text = iso_minutes(when)
    return {"parameters": _used(opts, at_text), "travel": travel_object(st, opts), "evaluated_at": at_text,
            **_calendar(when), "eligible": res.eligible, "count": len(results),
            "distance": f"route metres ({opts['travel_model']})", "results": results}
