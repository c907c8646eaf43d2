"""Facilities by map tile: ``GET /tiles/facilities/{z}/{x}/{y}.mvt`` (Mapbox Vector Tile) and ``.geojson``.

What a page or a GIS client needs for one view, never the whole registry (``geo.vector_tiles``: points from
zoom 12, clusters with counts below it). On PostGIS with a registry queried in the database
(``geo.store.knn``) the points come from ``ST_AsMVT``; a registry held in memory is encoded with
``mapbox-vector-tile``. The worker page and ``/map`` load the GeoJSON form by viewport (``viewport`` in their
config) for a registry queried in the database or one of more than ``geo.vector_tiles.VIEWPORT_FACILITIES``
live facilities in any store (a province's in the GeoPackage); a city's pages keep loading their one small
layer. Cacheable for a minute, then revalidated by ETag.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from geo.errors import ParameterError
from geo.export import dumps_geojson
from geo.store.knn import DbRegistry
from geo.vector_tiles import (
    MAX_ZOOM,
    POINT_ZOOM,
    TILE_FILTERS,
    TileFilter,
    check_tile,
    encode_mvt,
    loads_by_viewport,
    memory_features,
    tile_filter,
)
from web import state
from web.api import content_etag, geojson_response

bp = Blueprint("facility_tiles", __name__)

MVT = "application/vnd.mapbox-vector-tile"


def _tile(z: str, x: str, y: str) -> tuple[int, int, int, TileFilter]:
    """The tile address (whole numbers: anything else is a 400 naming it) and the parsed filters."""
    allowed = f"zoom 0 to {MAX_ZOOM}, x and y 0 to 2^zoom - 1"
    given = f"{z}/{x}/{y}"[:80]
    if not all(v.isascii() and v.isdigit() for v in (z, x, y)):
        raise ParameterError("z/x/y", given, allowed, f"z, x and y are whole numbers ({allowed}), got {given!r}")
    try:
        check_tile(int(z), int(x), int(y))
    except ValueError as exc:
        raise ParameterError("z/x/y", given, allowed, str(exc)[:200]) from None
    return int(z), int(x), int(y), tile_filter(TILE_FILTERS.parse(request.args))


def viewport_config() -> dict | None:
    """What the pages need to load facilities by viewport (a registry queried in the database, or one too large
    to send whole: ``geo.vector_tiles.loads_by_viewport``), else None (the pages load their whole layer)."""
    st = state()
    if not isinstance(st.registry, DbRegistry) and not loads_by_viewport(len(st.index.facilities)):
        return None
    return {"tiles": "/tiles/facilities/{z}/{x}/{y}.geojson", "point_zoom": POINT_ZOOM}


@bp.get("/tiles/facilities/<z>/<x>/<y>.mvt")
def facilities_mvt(z: str, x: str, y: str):
    """The facilities of one tile as a Mapbox Vector Tile (layer ``facilities``, or ``clusters`` below zoom 12)."""
    z, x, y, flt = _tile(z, x, y)
    st = state()
    if isinstance(st.registry, DbRegistry):
        body = st.registry.tile(z, x, y, flt)
    else:
        body = encode_mvt(*memory_features(st.index, z, x, y, flt), z, x, y)
    resp = Response(body, mimetype=MVT)
    resp.headers["ETag"] = content_etag(body)
    resp.headers["Cache-Control"] = "public, max-age=60"
    return resp.make_conditional(request)


@bp.get("/tiles/facilities/<z>/<x>/<y>.geojson")
def facilities_geojson(z: str, x: str, y: str):
    """The same tile as GeoJSON (``cluster: true`` features with a ``count`` below zoom 12)."""
    z, x, y, flt = _tile(z, x, y)
    st = state()
    if isinstance(st.registry, DbRegistry):
        layer, feats = st.registry.tile_features(z, x, y, flt)
    else:
        layer, feats = memory_features(st.index, z, x, y, flt)
    features = []
    for f in feats:
        props = dict(f["properties"])
        if layer == "clusters":
            props["cluster"] = True
        else:
            props["amenities"] = [a for a in props["amenities"].split(";") if a]
            props.setdefault("opening_hours", None)
        features.append({"type": "Feature", "id": props.get("id"), "properties": props,
                         "geometry": {"type": "Point", "coordinates": [round(f["lon"], 7), round(f["lat"], 7)]}})
    doc = {"type": "FeatureCollection", "tile": f"{z}/{x}/{y}", "layer": layer, "features": features}
    return geojson_response(dumps_geojson(doc).encode("utf-8"))
