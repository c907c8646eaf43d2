"""The offline basemap's data: ``GET /worker/basemap.geojson``.

One shipped file (``Settings.basemap_path``, built by ``data/build_basemap.py``: land, districts,
district and town labels, simplified for display, ~170 KB, ~43 KB gzip), read once per process
(``web.compress`` compresses it once, by its ETag). The pages draw it (``WM.Basemaps`` in
``web/static/js/common.js``) when tiles fail or are switched off. Page data like
``/worker/districts.geojson``, not part of the public API.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask import Blueprint, request

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


@bp.get("/worker/basemap.geojson")
def basemap():
    """Land, district boundaries and names, town labels: the offline basemap (RFC 7946, WGS84)."""
    NO_PARAMETERS.reject_unknown(request.args)
    return geojson_response(basemap_bytes(Path(state().settings.basemap_path)), max_age=MAX_AGE_S)
