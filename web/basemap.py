"""The offline basemap's data: ``GET /worker/basemap.geojson``.

Qingdao's: one shipped file (``Settings.basemap_path``, built by ``data/build_basemap.py``: land, districts,
district and town labels, simplified for display, ~170 KB, ~43 KB gzip), read once per process
(``web.compress`` compresses it once, by its ETag). Another region's (``WORKERMAP_REGION``): made once per
process from its display outlines (``geo.region_basemap``). The pages draw it (``WM.Basemaps`` in
``web/static/js/common.js``) when tiles fail or are switched off. Page data like
``/worker/districts.geojson``, not part of the public API.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask import Blueprint, request

from geo.export import dumps_geojson
from geo.region_basemap import region_basemap
from geo.registry_params import NO_PARAMETERS
from web import state
from web.api import geojson_response

bp = Blueprint("basemap", __name__)

#: The file changes only with a release: browsers may keep it a day.
MAX_AGE_S = 86_400


@cache
def basemap_bytes(path: Path) -> bytes:
    """The basemap file, read once per process."""
    return path.read_bytes()


@cache
def region_basemap_bytes(adcode: str, outlines: bytes, metric_crs: str, label_min_zoom: int) -> bytes:
    """A region's basemap (``geo.region_basemap``) from its display outlines, made once per process."""
    import orjson

    return dumps_geojson(region_basemap(orjson.loads(outlines), metric_crs, label_min_zoom=label_min_zoom)
                         ).encode("utf-8")


@bp.get("/worker/basemap.geojson")
def basemap():
    """Land, district boundaries and names, town labels: the offline basemap (RFC 7946, WGS84)."""
    NO_PARAMETERS.reject_unknown(request.args)
    st = state()
    region = st.region
    if region.districts_path is not None:  # Qingdao: the shipped file
        return geojson_response(basemap_bytes(Path(st.settings.basemap_path)), max_age=MAX_AGE_S)
    return geojson_response(region_basemap_bytes(region.adcode, st.district_outlines, region.metric_crs, region.zoom),
                            max_age=MAX_AGE_S)
