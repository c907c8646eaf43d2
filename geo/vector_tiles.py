"""Facilities by map tile (Web Mercator ``z/x/y``): what a page or a GIS client draws for one view.

From :data:`POINT_ZOOM` on, a tile carries every live facility inside its bounds (edges included) that
passes the filters, with the few properties a marker and the page's filters use (layer ``facilities``).
Below it a tile carries clusters (layer ``clusters``): the tile cut into :data:`GRID` × :data:`GRID`
cells in longitude and latitude, one feature per non-empty cell at the mean position of its facilities,
with their ``count`` — so a national view never ships 186,100 points.

A registry of more than :data:`VIEWPORT_FACILITIES` live facilities is too large for a page to download whole,
whatever the store: the worker page and ``/map`` then load these tiles for their view (:func:`loads_by_viewport`).

Two encodings: Mapbox Vector Tiles (``mapbox-vector-tile`` here for a registry held in memory;
``ST_AsMVT`` on PostGIS, ``geo.store.knn.DbRegistry.tile``) and GeoJSON (the pages' viewport loading).
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from geo.params import AMENITY, KIND, WORKER, Param, Params

__all__ = ["EXTENT", "GRID", "MAX_ZOOM", "POINT_ZOOM", "TILE_FILTERS", "VIEWPORT_FACILITIES", "TileFilter",
           "encode_mvt", "loads_by_viewport", "mercator_bounds", "memory_features", "tile_bounds", "tile_filter"]

POINT_ZOOM = 12
GRID = 8
EXTENT = 4096
MAX_ZOOM = 22
_R = 6378137.0
_HALF = math.pi * _R
#: Above this many live facilities the pages load facilities by viewport (tiles), never the whole layer. The
#: whole layer (``/worker/facilities.geojson``) costs ~22 bytes a facility on the wire (Brotli; a
#: Shandong-sized 17,102: 372 KB), and the rest of the worker page's first load is ~190 KB, so the 300 KB first-load
#: budget (issue 16) leaves ~110 KB, ~5,000 facilities; 4,000 keeps a margin for gzip-only clients and richer
#: records. Qingdao's registry (1,676 with the shipped sample) stays well below: its pages keep the whole layer.
VIEWPORT_FACILITIES = 4000
#: How many filters' lon-sorted arrays :func:`memory_features` keeps per index (each 24 bytes a facility).
_SORTED_FILTERS = 8
_sorted: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_sorted_lock = threading.Lock()
#: The properties of a point feature (``amenities`` joined with ';' in a vector tile).
POINT_FIELDS = ("id", "kind", "name", "name_en", "district", "status", "access", "amenities", "opening_hours",
                "workday_calendar")


@dataclass(frozen=True)
class TileFilter:
    """The worker page's map filters (hours are evaluated by the page: ``/worker/hours``)."""

    kinds: tuple[str, ...] = ()
    amenities: tuple[str, ...] = ()
    worker: str | None = None
    include_closed: bool = True


def check_tile(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise ValueError(f"zoom must be 0 to {MAX_ZOOM}, got {z}")
    if not (0 <= x < 2 ** z and 0 <= y < 2 ** z):
        raise ValueError(f"tile {z}/{x}/{y} does not exist: x and y are 0 to {2 ** z - 1} at zoom {z}")


def _lat(y: float, n: int) -> float:
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of the tile in WGS84 degrees.

    >>> tile_bounds(0, 0, 0)[0], round(tile_bounds(0, 0, 0)[3], 4)
    (-180.0, 85.0511)
    """
    n = 2 ** z
    return x / n * 360.0 - 180.0, _lat(y + 1, n), (x + 1) / n * 360.0 - 180.0, _lat(y, n)


def mercator_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(xmin, ymin, xmax, ymax) of the tile in EPSG:3857 metres."""
    size = 2 * _HALF / 2 ** z
    return -_HALF + x * size, _HALF - (y + 1) * size, -_HALF + (x + 1) * size, _HALF - y * size


def to_mercator(lon, lat):
    lon, lat = np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
    return np.radians(lon) * _R, np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * _R


def cell_of(lon, lat, bounds) -> tuple[np.ndarray, np.ndarray]:
    """The cluster cell (column, row) of each point inside ``bounds`` (the last cell keeps the east/north edge)."""
    west, south, east, north = bounds
    col = np.minimum(np.floor((np.asarray(lon) - west) / (east - west) * GRID), GRID - 1).astype(int)
    row = np.minimum(np.floor((np.asarray(lat) - south) / (north - south) * GRID), GRID - 1).astype(int)
    return col, row


def point_feature(f) -> dict[str, Any]:
    props = {"id": f.id, "kind": f.kind, "name": f.name, "name_en": f.name_en, "district": f.district,
             "status": f.status, "access": f.access,
             "amenities": ";".join(f.amenities), "workday_calendar": f.workday_calendar}
    if f.opening_hours is not None:
        props["opening_hours"] = f.opening_hours
    return {"lon": f.lon, "lat": f.lat, "properties": props}


def loads_by_viewport(live_facilities: int) -> bool:
    """Whether the pages load a registry of ``live_facilities`` by viewport (more than :data:`VIEWPORT_FACILITIES`).

    >>> loads_by_viewport(1676), loads_by_viewport(17102)
    (False, True)
    """
    return live_facilities > VIEWPORT_FACILITIES


def _by_lon(index, flt: TileFilter) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indices, lon, lat) of the facilities passing ``flt``, sorted by longitude (kept per index and filter)."""
    with _sorted_lock:  # the app's threads share it
        per_index = _sorted.setdefault(index, OrderedDict())
        hit = per_index.get(flt)
        if hit is not None:
            per_index.move_to_end(flt)
            return hit
        idx = index.eligible(kinds=flt.kinds, amenities=flt.amenities, worker=flt.worker,
                             include_closed=flt.include_closed)
        idx = idx[np.argsort(index.lon[idx], kind="stable")]
        hit = per_index[flt] = (idx, index.lon[idx], index.lat[idx])
        if len(per_index) > _SORTED_FILTERS:
            per_index.popitem(last=False)
        return hit


def memory_features(index, z: int, x: int, y: int, flt: TileFilter) -> tuple[str, list[dict[str, Any]]]:
    """(layer, features) of tile ``z/x/y`` from a ``geo.nearest.FacilityIndex``: each feature ``{"lon", "lat",
    "properties"}``; points from :data:`POINT_ZOOM` (in index order), else clusters (``properties``: ``count``).

    Only the tile's longitude band is read (a binary search in the lon-sorted arrays), so a tile of a 200,000
    facility registry costs about what the band holds, not a scan of the registry."""
    check_tile(z, x, y)
    bounds = tile_bounds(z, x, y)
    west, south, east, north = bounds
    idx, lon, lat = _by_lon(index, flt)
    lo, hi = int(np.searchsorted(lon, west, side="left")), int(np.searchsorted(lon, east, side="right"))
    idx, lon, lat = idx[lo:hi], lon[lo:hi], lat[lo:hi]
    inside = (lat >= south) & (lat <= north)
    idx, lon, lat = idx[inside], lon[inside], lat[inside]
    if z >= POINT_ZOOM:
        return "facilities", [point_feature(index.facilities[i]) for i in np.sort(idx).tolist()]
    return "clusters", clusters(lon, lat, bounds)


def clusters(lon: np.ndarray, lat: np.ndarray, bounds) -> list[dict[str, Any]]:
    """One feature per non-empty cell: the mean position and the count, cells in (row, column) order."""
    if not len(lon):
        return []
    col, row = cell_of(lon, lat, bounds)
    key = row * GRID + col
    count = np.bincount(key, minlength=GRID * GRID)
    sum_lon = np.bincount(key, weights=lon, minlength=GRID * GRID)
    sum_lat = np.bincount(key, weights=lat, minlength=GRID * GRID)
    return [{"lon": float(sum_lon[k] / count[k]), "lat": float(sum_lat[k] / count[k]),
             "properties": {"count": int(count[k])}} for k in np.flatnonzero(count).tolist()]


def encode_mvt(layer: str, features: list[dict[str, Any]], z: int, x: int, y: int) -> bytes:
    """A Mapbox Vector Tile (extent :data:`EXTENT`) with one point layer (``mapbox-vector-tile``)."""
    import mapbox_vector_tile

    if not features:
        return b""
    mx, my = to_mercator([f["lon"] for f in features], [f["lat"] for f in features])
    xmin, ymin, xmax, ymax = mercator_bounds(z, x, y)
    # tile units, y up (the encoder flips y to the tile's y-down), rounded as ST_AsMVTGeom rounds
    px = np.round((mx - xmin) / (xmax - xmin) * EXTENT).astype(int).tolist()
    py = np.round((my - ymin) / (ymax - ymin) * EXTENT).astype(int).tolist()
    feats = [{"geometry": f"POINT ({a} {b})", "properties": f["properties"]}
             for f, a, b in zip(features, px, py, strict=True)]
    return mapbox_vector_tile.encode([{"name": layer, "features": feats}],
                                     default_options={"extents": EXTENT, "on_invalid_geometry": None})


#: The query parameters of a facility tile (declared once: validation and OpenAPI).
TILE_FILTERS = Params(KIND, AMENITY, WORKER, Param(
    "open_only", "boolean", "Only facilities whose status is open (not temporarily closed or under maintenance; "
    "removed ones are never in a tile).", default=False))


def tile_filter(values: dict[str, Any]) -> TileFilter:
    """The filter parsed :data:`TILE_FILTERS` values ask for."""
    return TileFilter(tuple(values["kind"] or ()), tuple(values["amenity"] or ()), values["worker"],
                      not values["open_only"])
