"""/api/v1/export: the registry or the districts as a download that GIS tools and spreadsheets open as is.

``format`` geojson (RFC 7946) | csv (UTF-8 BOM) | gpkg | kml; ``layer`` facilities |
districts | uncovered (the planner's uncovered-area polygons, with the /api/v1/gaps
parameters); the same filters as ``/ogc/collections/{id}/items`` (without paging),
e.g. ``kind``, ``district``, ``amenity``, ``status``, ``bbox``, ``datetime``,
``near``/``radius_m``. ``crs=gcj02|bd09`` adds ``lon_<crs>``/``lat_<crs>``
columns to CSV; geometry is always WGS84. What each layer takes is declared in
``geo.registry_params.EXPORT``; the writers are in ``geo.export`` and ``geo.kml``;
this view only parses and serialises.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from geo.export import DOWNLOAD_FORMATS, export_registry, polygon_layer_export
from geo.query import FacilityFilter
from geo.registry_params import EXPORT, LAYER
from web import params, state

__all__ = ["bp"]

bp = Blueprint("exports", __name__, url_prefix="/api/v1")

#: What an unfiltered download of a layer is keyed by (it is kept per registry version).
_UNFILTERED = {"format", "layer", "crs"}


@bp.get("/export")
def export():
    """Download a layer in one format, filtered like the OGC items endpoint."""
    args = request.args
    layer = LAYER.parse(args)
    if layer == "uncovered":
        return export_uncovered()
    st = state()
    values = EXPORT[layer].parse(args, allow_empty=False, lookups=params.lookups(st))
    fmt, crs = values["format"], values.get("crs", "wgs84")
    registry, table, cache = st.registry, st.facility_table, st.export_cache
    unfiltered = set(args) <= _UNFILTERED
    key = (registry.version, layer, fmt, crs)
    body = cache.get(key) if unfiltered else None
    if body is None:
        body, _ = export_registry(registry, st.districts, fmt, layer=layer, flt=FacilityFilter.of(values),
                                  datum=crs, table=table)  # crs other than wgs84 with another format than csv: 400
        if unfiltered and table.facilities is registry.facilities:
            cache[key] = body
    return _download(body, fmt, layer)


def _download(body: bytes, fmt: str, layer: str) -> Response:
    media_type, suffix = DOWNLOAD_FORMATS[fmt]
    resp = Response(body, content_type=media_type)
    resp.headers["Content-Disposition"] = f'attachment; filename="qingdao-{layer}.{suffix}"'
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def export_uncovered() -> Response:
    """layer=uncovered: the uncovered-area polygons for the coverage parameters of /api/v1/gaps."""
    from geo.gaps import uncovered_title
    from web.coverage_api import uncovered_collection

    args = params.QueryArgs.from_request()
    declared = EXPORT["uncovered"]
    declared.reject_unknown(args)
    fmt = declared["format"].parse(args)
    gaps_args = params.QueryArgs({k: v for k, v in args.items() if k not in ("format", "layer")})
    fc = uncovered_collection(gaps_args)  # the planner's view parses the /api/v1/gaps parameters
    body = polygon_layer_export(fc, fmt, layer="uncovered", title=uncovered_title(fc["assumptions"].get("city")))
    return _download(body, fmt, "uncovered")
