"""/api/v1/export: the registry or the districts as a download that GIS tools and spreadsheets open as is.

``format`` geojson (RFC 7946) | csv (UTF-8 BOM) | gpkg | kml; ``layer`` facilities |
districts | uncovered (the planner's uncovered-area polygons, with the /api/v1/gaps
parameters); the same filters as ``/ogc/collections/{id}/items`` (without paging),
e.g. ``kind``, ``district``, ``amenity``, ``status``, ``bbox``, ``datetime``,
``near``/``radius_m``. ``crs=gcj02|bd09`` adds ``lon_<crs>``/``lat_<crs>``
columns to CSV; geometry is always WGS84. The writers are in ``geo.export`` and
``geo.kml``; this view only parses and serialises.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from geo.datum import DATUMS
from geo.export import DOWNLOAD_FORMATS, export_registry, polygon_layer_export
from web import params, state
from web.errors import bad_param
from web.ogc import DistrictSource, FacilitySource, check_args, facility_filter

__all__ = ["LAYERS", "bp"]

bp = Blueprint("exports", __name__, url_prefix="/api/v1")

#: Layer -> the filters it takes (the OGC collection's, so both stay the same).
LAYERS: dict[str, tuple[str, ...]] = {
    "facilities": FacilitySource().filters,
    "districts": DistrictSource.filters,
    "uncovered": (),  # takes the /api/v1/gaps parameters instead (see export_uncovered)
}


def export_params(layer: str) -> tuple[str, ...]:
    """Every query parameter /api/v1/export takes for ``layer``."""
    return ("format", "layer", *(("crs",) if layer == "facilities" else ()), *LAYERS[layer])


@bp.get("/export")
def export():
    """Download a layer in one format, filtered like the OGC items endpoint."""
    args = request.args
    layer = params.choice(args, "layer", LAYERS, "facilities")
    if layer == "uncovered":
        return export_uncovered()
    check_args(args, export_params(layer))
    fmt = params.choice(args, "format", DOWNLOAD_FORMATS, "geojson")
    crs = params.choice(args, "crs", DATUMS, "wgs84") if layer == "facilities" else "wgs84"
    if crs != "wgs84" and fmt != "csv":
        raise bad_param("crs", crs, "wgs84 unless format=csv",
                        f"crs={crs} adds lon_{crs}/lat_{crs} columns to CSV only; "
                        f"{fmt} is always WGS84 (use format=csv, or leave crs out)")
    st = state()
    registry, table, cache = st.registry, st.facility_table, st.export_cache
    unfiltered = set(args) <= {"format", "layer", "crs"}
    key = (registry.version, layer, fmt, crs)
    body = cache.get(key) if unfiltered else None
    if body is None:
        body, _ = export_registry(registry, st.districts, fmt, layer=layer, flt=facility_filter(args, st),
                                  datum=crs, table=table)
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
    from geo.gaps import UNCOVERED_TITLE
    from web.coverage_api import COMMON, uncovered_collection

    args = params.QueryArgs.from_request()
    params.reject_unknown(args, ("format", "layer", "limit", "demand", *COMMON))
    fmt = params.choice(args, "format", DOWNLOAD_FORMATS, "geojson")
    fc = uncovered_collection(args)
    body = polygon_layer_export(fc, fmt, layer="uncovered", title=UNCOVERED_TITLE)
    return _download(body, fmt, "uncovered")
