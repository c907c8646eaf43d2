"""/api/v1/nearest: the nearest eligible facilities for a worker, one point or a batch."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import Blueprint

from geo import datum
from geo.inputs import lonlat_pairs
from geo.nearest import Travel
from geo.params import MAX_BATCH, NEAREST, NEAREST_BATCH, TRAVEL
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


#: What the options depend on (every option of GET/POST nearest but the point itself).
_OPTION_NAMES = (*_OPTIONS.names, "radius_m", *TRAVEL.names)


def _options(args, base_travel: Travel) -> dict[str, Any]:
    """Parse the options shared by GET and POST (``args`` is query args or the JSON body as strings).

    Workers ask with few distinct option sets and many points: an answer is kept per raw option values
    (the point is not part of the key; a refused set raises again, nothing is kept for it).
    """
    key = tuple(tuple(args.getlist(n)) if hasattr(args, "getlist") else args.get(n) for n in _OPTION_NAMES)
    return _parsed_options(key, base_travel)


@lru_cache(maxsize=256)
def _parsed_options(key: tuple, base_travel: Travel) -> dict[str, Any]:
    args = params.QueryArgs({n: list(v) if isinstance(v, tuple) else [v] for n, v in zip(_OPTION_NAMES, key,
                                                                                        strict=True)
                             if v not in (None, ())})
    o = _OPTIONS.parse(args, check_unknown=False)
    return {"k": o["k"], "radius_m": NEAREST["radius_m"].parse(args), "kinds": tuple(o["kind"]),
            "amenities": tuple(o["amenity"]), "worker": o["worker"], "open_at": o["open_at"],
            "include_closed": o["include_closed"], "open_24h": o["open_24h"], "crs": o["crs"],
            "travel": travel_options(args, base_travel)}


def _to_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    return (lon, lat) if crs == "wgs84" else datum.convert(lon, lat, src=crs, dst="wgs84")


def _used(opts: dict, at) -> dict[str, Any]:
    return {
        "k": opts["k"], "radius_m": opts["radius_m"], "kind": opts["kinds"], "amenity": opts["amenities"],
        "worker": opts["worker"], "open_at": None if opts["open_at"] is None else iso_minutes(at),
        "hours_filter": opts["open_at"] is not None, "include_closed": opts["include_closed"],
        "open_24h": opts["open_24h"],
        "crs": opts["crs"], **opts["travel"].as_dict(),
    }


def nearest_payload(args: params.QueryArgs, st: AppState) -> dict[str, Any]:
    """The answer to ``GET /api/v1/nearest?…`` (raises ApiError on bad input); used by the view
    below and by the WSGI fast path (:mod:`web.fastpath`)."""
    NEAREST.reject_unknown(args)
    opts = _options(args, st.travel)
    lon_in, lat_in = NEAREST["lon"].parse(args), NEAREST["lat"].parse(args)
    lon, lat = _to_wgs84(lon_in, lat_in, opts["crs"])
    encoder = st.hit_encoder
    res = encoder.index.query(lon, lat, k=opts["k"], radius_m=opts["radius_m"], kinds=opts["kinds"],
                              amenities=opts["amenities"], worker=opts["worker"], open_at=opts["open_at"],
                              include_closed=opts["include_closed"], open_24h=opts["open_24h"],
                              travel=opts["travel"])
    return {
        "query": {"lon": lon_in, "lat": lat_in, "crs": opts["crs"], "lon_wgs84": round(lon, 7),
                  "lat_wgs84": round(lat, 7)},
        "parameters": _used(opts, res.at),
        "evaluated_at": iso_minutes(res.at),
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
    opts = _options(body_args(body, skip=("points",)), state().travel)
    arr = lonlat_pairs(body.get("points"), "points", MAX_BATCH)
    lon, lat = arr[:, 0], arr[:, 1]
    if opts["crs"] != "wgs84":
        lon, lat = datum.convert(lon, lat, src=opts["crs"], dst="wgs84")
    travel = opts["travel"]
    dist, fidx, when, eligible = state().index.query_batch(
        lon, lat, k=opts["k"], kinds=opts["kinds"], amenities=opts["amenities"], worker=opts["worker"],
        open_at=opts["open_at"], include_closed=opts["include_closed"], open_24h=opts["open_24h"])
    facilities = state().index.facilities
    walk, ebike = travel.minutes(dist, travel.walk_kmh), travel.minutes(dist, travel.ebike_kmh)
    results = [
        [{"id": facilities[i].id, "distance_m": round(float(dist[r, c]), 1), "walk_min": round(float(walk[r, c]), 1),
          "ebike_min": round(float(ebike[r, c]), 1)} for c, i in enumerate(row) if i >= 0]
        for r, row in enumerate(fidx)
    ]
    return {"parameters": _used(opts, when), "evaluated_at": iso_minutes(when), "eligible": eligible,
            "count": len(results), "distance": "planar EPSG:4549 (within 0.01 % of geodesic)",
            "results": results}
