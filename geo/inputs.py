"""Structured user input: lists of [lon, lat] points, exclusion polygons, facility ids.

One parser each, used by every adapter: the HTTP API (query strings and JSON bodies) and the
command line (values read from its options and files). Each raises :class:`geo.errors.ParameterError`
naming the parameter, or the first bad item as ``name[i]``, with what is allowed.

>>> lonlat_pairs([[120.38, 36.06]], "points", 10).tolist()
[[120.38, 36.06]]
>>> lonlat_pairs([[120.38, 36.06], [130.0, 36.0]], "points", 10)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
geo.errors.ParameterError: points[1] must be [lon, lat] inside Qingdao (...), got [130.0, 36.0]
>>> points_text_or_pairs("120.38,36.07;120.41,36.10", "add", 10).tolist()
[[120.38, 36.07], [120.41, 36.1]]
>>> id_list("st-1, st-2,,", "remove", 10)
('st-1', 'st-2')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geo.errors import ParameterError
from geo.regions import active_region

__all__ = ["EXCLUSION_ALLOWED", "exclusion_polygons", "id_list", "lonlat_pairs", "on_land", "points_text_or_pairs"]

EXCLUSION_ALLOWED = "a GeoJSON Polygon or MultiPolygon (WGS84), or a Feature or FeatureCollection of them"


def _in_city(lon, lat):
    from geo.model import in_city_bounds

    return in_city_bounds(lon, lat)


def lonlat_pairs(raw: Any, name: str, limit: int) -> np.ndarray:
    """A JSON list of ``[lon, lat]`` pairs inside Qingdao as an (n, 2) array (else a ParameterError naming
    the parameter, or the first bad point as ``name[i]``)."""
    allowed = f"a non-empty list of [lon, lat] number pairs (at most {limit})"
    if not isinstance(raw, list) or not raw:
        raise ParameterError(name, str(raw)[:60], allowed)
    if len(raw) > limit:
        raise ParameterError(name, f"{len(raw)} points", allowed)
    try:
        arr = np.array(raw, dtype="float64")
    except (TypeError, ValueError, OverflowError):
        raise ParameterError(name, str(raw)[:60], allowed) from None
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ParameterError(name, str(raw)[:60], allowed)
    outside = np.flatnonzero(~_in_city(arr[:, 0], arr[:, 1]))
    if len(outside):
        i = int(outside[0])
        r = active_region()
        raise ParameterError(f"{name}[{i}]", raw[i], f"[lon, lat] inside {r.name_en} ({r.bounds_text})")
    return arr


def points_text_or_pairs(raw: Any, name: str, limit: int) -> np.ndarray:
    """New sites as ``"lon,lat;lon,lat"`` text (a query string, repeated command-line values joined by
    ``;``) or as a JSON list of pairs: an (n, 2) array inside Qingdao, n ≤ ``limit`` (n = 0 for none)."""
    if raw is None or raw == "" or raw == []:
        return np.empty((0, 2))
    if isinstance(raw, str):
        pairs = []
        for part in (p for p in raw.split(";") if p.strip()):
            bits = part.split(",")
            if len(bits) != 2:
                raise ParameterError(name, part, "lon,lat pairs separated by ';', e.g. 120.38,36.07;120.41,36.10")
            pairs.append(bits)
        raw = pairs
    try:
        arr = np.array(raw, dtype="float64").reshape(-1, 2)
    except (TypeError, ValueError, OverflowError):
        raise ParameterError(name, str(raw)[:60], "lon,lat pairs separated by ';' (GET) or [[lon, lat], ...] "
                             "(POST)") from None
    if len(arr) > limit:
        raise ParameterError(name, f"{len(arr)} points", f"at most {limit} points")
    if len(arr) == 0:
        return arr
    return lonlat_pairs(arr.tolist(), name, limit)


def on_land(points: np.ndarray, districts, name: str, raw: Any = None) -> np.ndarray:
    """``points`` unchanged if every one lies in a district of ``districts`` (:class:`geo.geography.Districts`),
    else a ParameterError naming the first one off land as ``name[i]``."""
    if len(points) == 0:
        return points
    off = np.flatnonzero(districts.locate(points[:, 0], points[:, 1]) == "")
    if len(off):
        i = int(off[0])
        shown = raw[i] if isinstance(raw, list) and i < len(raw) else points[i].tolist()
        raise ParameterError(f"{name}[{i}]", shown, f"a point on land inside a {active_region().name_en} district")
    return points


def exclusion_polygons(raw: Any, name: str = "exclude"):
    """A GeoJSON geometry, Feature or FeatureCollection of WGS84 polygons inside Qingdao as one valid
    shapely geometry (None for None)."""
    import shapely
    from shapely.geometry import shape

    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ParameterError(name, str(raw)[:60], EXCLUSION_ALLOWED)
    kind = raw.get("type")
    if kind == "FeatureCollection":
        features = raw.get("features") or []
        if not isinstance(features, list):
            raise ParameterError(name, str(raw)[:60], EXCLUSION_ALLOWED)
        geoms = [f.get("geometry") if isinstance(f, dict) else None for f in features]
    elif kind == "Feature":
        geoms = [raw.get("geometry")]
    else:
        geoms = [raw]
    parts = []
    for g in geoms:
        if not isinstance(g, dict) or g.get("type") not in ("Polygon", "MultiPolygon"):
            raise ParameterError(name, str(g)[:60], EXCLUSION_ALLOWED)
        try:
            geom = shape(g)
            lon0, lat0, lon1, lat1 = geom.bounds
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, shapely.errors.ShapelyError):
            raise ParameterError(name, str(g)[:60], EXCLUSION_ALLOWED) from None
        if not (_in_city(lon0, lat0) and _in_city(lon1, lat1)):
            raise ParameterError(name, str(g)[:60], f"polygons in WGS84 lon/lat inside {active_region().name_en}")
        parts.append(shapely.make_valid(geom))
    return shapely.union_all(parts) if parts else None


def id_list(raw: Any, name: str, limit: int) -> tuple[str, ...]:
    """Facility ids as comma-separated text or a JSON list (blank ones dropped), at most ``limit``."""
    if raw is None or raw == "":
        return ()
    values = raw if isinstance(raw, list | tuple) else str(raw).split(",")
    ids = tuple(str(v).strip() for v in values if str(v).strip())
    if len(ids) > limit:
        raise ParameterError(name, f"{len(ids)} ids", f"at most {limit} facility ids")
    return ids
