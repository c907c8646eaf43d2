"""The street basemap of an imported OpenStreetMap extract: ``GET /tiles/streets.pmtiles``.

One PMTiles archive (``geo.osm_tiles``, written by ``workermap osm import``), served whole or by
HTTP ``Range`` (``206 Partial Content`` with ``Content-Range``: the browser's PMTiles reader asks for
the header, then directories and tiles, by byte ranges), with a strong ``ETag`` so a re-import is
noticed (``If-Range``, ``If-None-Match``). Without an imported extract: 404 in the one error shape.

:func:`page_config` tells the pages whether the archive exists (their ``streets`` config entry), so
the offline basemap (``WM.Basemaps`` in ``web/static/js/common.js``) loads the vendored
protomaps-leaflet script and draws streets only then. Page data like ``/worker/basemap.geojson``,
not part of the public API.
"""

from __future__ import annotations

from flask import Blueprint, request, send_file, url_for

from geo.errors import NotFound
from geo.osm_tiles import ATTRIBUTION, MAX_ZOOM, MIN_ZOOM, installed_tiles
from geo.registry_params import NO_PARAMETERS
from web import state

bp = Blueprint("tiles", __name__)

#: The scripts that draw it, loaded by the page only when it exists: protomaps-leaflet's browser bundle
#: (npm, vendored with its licences) and our style rules for the archive's layers.
SCRIPTS = ("vendor/protomaps-leaflet/protomaps-leaflet.js", "js/streets.js")


def page_config() -> dict | None:
    """What a page needs to draw the street basemap, or None when no extract is imported."""
    if installed_tiles(state().settings) is None:
        return None
    return {"url": url_for("tiles.streets"), "scripts": [url_for("static", filename=f) for f in SCRIPTS],
            "attribution": ATTRIBUTION, "min_zoom": MIN_ZOOM, "max_zoom": MAX_ZOOM}


@bp.get("/tiles/streets.pmtiles")
def streets():
    """The street basemap archive (whole, or the byte ranges asked for)."""
    NO_PARAMETERS.reject_unknown(request.args)
    path = installed_tiles(state().settings)
    if path is None:
        raise NotFound("no street basemap: import an OpenStreetMap extract first "
                       "(workermap osm import FILE.osm.pbf)")
    resp = send_file(path, mimetype="application/vnd.pmtiles", conditional=True, etag=True, max_age=0)
    resp.headers["Cache-Control"] = "no-cache"  # a re-import replaces it: revalidate (ETag)
    return resp
