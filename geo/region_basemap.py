"""The offline basemap of a region other than Qingdao: its land, its units and their names.

Qingdao ships its own (``data/build_basemap.py``: coast, districts, town labels). Another region
(``WORKERMAP_REGION``) gets one made from its display outlines (``geo.regions.outline_geojson``: the
units simplified for the pages), in the same shape, so the pages draw it the same way when map tiles
fail or are switched off:

* ``land``: the union of the units (one MultiPolygon). What lies beyond the region — a neighbouring
  province or country — is not known here: the collection says so (``"beyond": "unknown"``) and the
  pages paint it neutral grey, not as sea;
* ``district``: each unit (``adcode``, ``name``, ``name_en``);
* ``district_label``: each unit's name at the pole of inaccessibility of its largest part (found in the
  region's metric CRS, ``geo.regions.Region.metric_crs``, to about 1 % of the part's size), with
  ``min_zoom``, the zoom from which the pages show it (where the region opens: its units are what a
  user first needs to read).

>>> square = {"type": "Polygon", "coordinates": [[[120, 36], [121, 36], [121, 37], [120, 37], [120, 36]]]}
>>> fc = {"type": "FeatureCollection", "features": [
...     {"type": "Feature", "geometry": square, "properties": {"adcode": "1", "name": "甲", "name_en": "Jia"}}]}
>>> doc = region_basemap(fc, "EPSG:4549", label_min_zoom=6)
>>> [f["properties"]["layer"] for f in doc["features"]], doc["beyond"]
(['land', 'district', 'district_label'], 'unknown')
>>> lon, lat = doc["features"][2]["geometry"]["coordinates"]  # 89 km wide, 111 km high: on the middle line
>>> abs(lon - 120.5) < 0.01, 36.3 < lat < 36.7
(True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape
from shapely.ops import polylabel

__all__ = ["LABEL_PRECISION", "region_basemap"]

#: A label's position is found to this share of the square root of its part's area.
LABEL_PRECISION = 0.01
_DECIMALS = 5


def _round(geom) -> dict[str, Any]:
    return mapping(shapely.set_precision(geom, 10.0 ** -_DECIMALS))


def region_basemap(outlines: dict, metric_crs: str, *, label_min_zoom: int) -> dict[str, Any]:
    """The offline basemap (see the module docstring) of the units in ``outlines`` (a GeoJSON FeatureCollection
    of (Multi)Polygons with ``adcode``, ``name``, ``name_en``), labels placed in ``metric_crs`` (metres)."""
    from pyproj import Transformer

    to_metric = Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True).transform
    to_lonlat = Transformer.from_crs(metric_crs, "EPSG:4326", always_xy=True).transform
    units = [(f["properties"], shape(f["geometry"])) for f in outlines["features"]]
    geoms = np.array([g for _, g in units], dtype=object)
    land = shapely.union_all(shapely.make_valid(geoms)) if len(geoms) else shapely.MultiPolygon()
    if land.geom_type == "Polygon":
        land = shapely.MultiPolygon([land])
    features = [{"type": "Feature", "geometry": _round(land), "properties": {"layer": "land"}}]
    labels = []
    for props, geom in units:
        keep = {k: props.get(k) for k in ("adcode", "name", "name_en")}
        features.append({"type": "Feature", "geometry": mapping(geom), "properties": {"layer": "district", **keep}})
        parts = shapely.get_parts(geom)
        if not len(parts):
            continue
        metric = shapely.transform(parts, lambda xy: np.column_stack(to_metric(xy[:, 0], xy[:, 1])))
        largest = metric[int(np.argmax(shapely.area(metric)))]
        spot = polylabel(largest, max(1.0, LABEL_PRECISION * float(np.sqrt(largest.area))))
        lon, lat = to_lonlat(spot.x, spot.y)
        labels.append({"type": "Feature",
                       "geometry": {"type": "Point", "coordinates": [round(lon, _DECIMALS), round(lat, _DECIMALS)]},
                       "properties": {"layer": "district_label", **keep, "min_zoom": label_min_zoom}})
    return {"type": "FeatureCollection", "beyond": "unknown", "features": features + labels}
