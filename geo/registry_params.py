"""The parameters of the registry endpoints and commands, declared once (:class:`geo.params.Param`).

OGC API – Features (``/ogc``: the items' filters, paging and ``f``), ``/api/v1/facilities``,
``/api/v1/meta`` and ``/api/v1/districts`` (none), ``/api/v1/export`` (by layer), the admin API
(``/api/v1/admin``: audit and versions limits, the import form, the restore body) and the worker
page's ``/worker/hours``. The views parse with these sets, ``web.openapi`` documents them, and
``workermap export`` builds its options from :data:`EXPORT` (``cli.base.param_options``), so a range, a
default or an allowed value is written here and nowhere else. The shared ones (``kind``, ``amenity``,
``radius_m``'s limit …) come from :mod:`geo.params`, the planner's ``/gaps`` parameters (the
``uncovered`` export layer) from :mod:`geo.planner_params`.

Light to import (no numpy): the parsers of bbox, datetime and near live in ``geo.query`` and
``geo.model`` and are imported when first used. ``district`` is a ``lookup`` parameter: its values are
the app's districts, given to ``parse`` as ``lookups={"district": districts.lookup}``.

>>> NAMES = {"370202": "370202", "市南区": "370202", "Shinan": "370202"}
>>> v = FACILITY_FILTERS.parse({"bbox": "120.3,36.0,120.5,36.2", "near": "120.38,36.06", "radius_m": "500",
...                             "district": "Shinan"}, lookups={"district": NAMES})
>>> v["bbox"], v["near"], v["radius_m"], v["district"], v["kind"]
((120.3, 36.0, 120.5, 36.2), (120.38, 36.06), 500.0, ('370202',), ())
>>> NEAR.parse({"near": "36.06,120.38"})
Traceback (most recent call last):
...
geo.errors.ParameterError: near must be lon,lat inside Qingdao (lon 119.3–121.3, lat 35.4–37.3, WGS84), \
got '36.06,120.38': lon and lat swapped? lon comes first
>>> PAGING.parse({"limit": "50000"})["limit"] == 50000  # served as MAX_LIMIT by the view (OGC API asks so)
True
"""

from __future__ import annotations

from dataclasses import replace

from geo import vocab
from geo.errors import ParameterError
from geo.params import AMENITY, KIND, MAX_RADIUS_M, Param, Params
from geo.planner_params import GAPS

__all__ = [
    "AUDIT", "BBOX", "DATETIME", "DEFAULT_LIMIT", "DISTRICTS", "DISTRICT_FILTERS", "EXPORT", "EXPORT_LAYERS", "F",
    "FACILITIES", "FACILITY_FILTERS", "FACILITY_BODY", "FORMAT", "IMPORT_FORM", "LAYER", "MAX_AUDIT_ENTRIES",
    "MAX_LIMIT", "MAX_VERSION", "MAX_VERSIONS_LISTED", "NEAR", "NO_PARAMETERS", "OGC_DOCUMENT", "PAGING", "RESTORE",
    "VERSIONS", "WORKER_HOURS",
]

# -- limits ----------------------------------------------------------------------------------------------

#: Items per page of an OGC API items request when no limit is given.
DEFAULT_LIMIT = 100
#: Most items one page holds: a larger limit is served as this many (OGC API – Features 1.0, 7.15.3).
MAX_LIMIT = 10_000
#: Most audit entries one request lists.
MAX_AUDIT_ENTRIES = 10_000
#: Most registry versions one request lists.
MAX_VERSIONS_LISTED = 100_000
#: The largest version number a database INTEGER holds (SQLite, PostgreSQL bigint): beyond it, a 400.
MAX_VERSION = 2**63 - 1

BBOX_ALLOWED = "4 or 6 comma-separated numbers lon_min,lat_min,lon_max,lat_max (WGS84, CRS84 axis order)"
DATETIME_ALLOWED = ("an RFC 3339 date or date-time, or an interval start/end with '..' for an open end, "
                    "e.g. 2025-06-18, 2025-01-01/2025-06-30, ../2025-06-30T12:00:00Z")
NEAR_ALLOWED = f"lon,lat inside Qingdao ({vocab.CITY_BOUNDS_TEXT}, WGS84)"
AT_ALLOWED = ("'now' or an ISO 8601 date-time in years 1-9999 such as 2026-11-24T23:40 (Qingdao time) or "
              "2026-11-24T15:40Z")


# -- converters (their parsers import numpy or shapely: imported when first used) ---------------------------

def _bbox(numbers: tuple[float, ...]):
    from geo.query import parse_bbox

    return parse_bbox(numbers)  # its ValueError says what is wrong (a latitude beyond 90, lat_min > lat_max)


def _near(numbers: tuple[float, ...]) -> tuple[float, float]:
    from geo.model import in_city_bounds

    lon, lat = numbers
    if not in_city_bounds(lon, lat):
        raise ValueError("lon and lat swapped? lon comes first" if in_city_bounds(lat, lon) else "")
    return lon, lat


def _datetime(text: str):
    from geo.query import parse_datetime

    try:
        return parse_datetime(text)
    except ValueError as exc:
        raise ParameterError("datetime", text, DATETIME_ALLOWED,
                             f"datetime must be {DATETIME_ALLOWED}; got {text[:80]!r}: {exc}") from None


def _at(text: str):
    from geo.hours import parse_when

    when = parse_when(text)
    if when is None:  # 'any': a moment is needed here
        raise ValueError(text)
    return when


# -- OGC API – Features (/ogc), /api/v1/facilities -----------------------------------------------------

F = Param("f", "enum", "Response format; without it the Accept header decides (JSON unless text/html is preferred).",
          values=("json", "html"))
LIMIT = Param("limit", "integer", f"Page size. At most {MAX_LIMIT} items are returned: a larger limit is served as "
              f"{MAX_LIMIT} (OGC API – Features 1.0, 7.15.3), with a next link to go on.", default=DEFAULT_LIMIT,
              lo=1)
OFFSET = Param("offset", "integer", "Number of matching items to skip (the next/prev links set it).", default=0,
               lo=0)
BBOX = Param("bbox", "numbers", "Only features whose geometry intersects this box (edges included): lon_min,lat_min,"
             "lon_max,lat_max in WGS84 longitude/latitude (CRS84). Six numbers (with heights) are accepted, heights "
             "ignored. lon_min > lon_max crosses the antimeridian. A longitude outside -180..180, a latitude outside "
             "-90..90 or lat_min > lat_max is a 400.", count=(4, 6), max_len=200, convert=_bbox,
             allowed_text=BBOX_ALLOWED, example=[120.30, 36.03, 120.45, 36.10])
DATETIME = Param("datetime", "text", "Only facilities whose verified_at (a Qingdao calendar date) falls on this "
                 "instant or in this interval. An RFC 3339 date or date-time (converted to its Qingdao date), or an "
                 "interval start/end with '..' (or nothing) for an open end: 2025-06-18, 2025-01-01/2025-06-30, "
                 "../2025-06-30T12:00:00Z, 2025-01-01/... Facilities without verified_at never match.",
                 convert=_datetime, allowed_text=DATETIME_ALLOWED, example="2025-01-01/2025-12-31")
#: Districts by any of their names; parsed to adcodes (a ``lookup`` parameter: ``Districts.lookup``).
DISTRICTS = Param("district", "enum_list", "Districts by adcode, Chinese or English name (any of them).",
                  lookup=True, allowed_text="Qingdao district adcodes or names (e.g. 370202, 市南区, Shinan)")
STATUS = Param("status", "enum_list", "Statuses (any of them). Without it every status but 'removed' is returned: "
               "removed facilities appear only when status includes 'removed'.", values=lambda: tuple(vocab.STATUS))
_B = vocab.CITY_BOUNDS
NEAR = Param("near", "numbers", f"Proximity extension: lon,lat (WGS84) inside Qingdao (lon {_B['lon_min']}–"
             f"{_B['lon_max']}, lat {_B['lat_min']}–{_B['lat_max']}). Items are ordered by geodesic distance from it "
             "(WGS84 ellipsoid) and get a distance_m property (metres, 0.1 m).", count=(2,), convert=_near,
             allowed_text=NEAR_ALLOWED, example=[120.3843, 36.062])
RADIUS = Param("radius_m", "number", "Proximity extension: keep only items within this geodesic distance (metres) "
               "of near; needs near (else 400). A point exactly radius_m away is inside.", lo=1, hi=MAX_RADIUS_M,
               where=" (metres)", example=2000)

#: The filters of a facility collection's items (a one-kind collection's: without kind) and of their export.
FACILITY_FILTERS = Params(BBOX, DATETIME, KIND, DISTRICTS, AMENITY, STATUS, NEAR, RADIUS)
#: The filters of the district polygons' items and export.
DISTRICT_FILTERS = Params(BBOX, DISTRICTS)
#: What an items request takes besides its collection's filters.
PAGING = Params(LIMIT, OFFSET, F)
#: The other OGC API documents (landing page, conformance, collections, a collection, one item).
OGC_DOCUMENT = Params(F)
#: GET /api/v1/facilities.
FACILITIES = Params(KIND, DISTRICTS)
#: GET /api/v1/meta, /api/v1/districts, /api/openapi.json, /api/docs and the worker page's GeoJSON: nothing.
NO_PARAMETERS = Params()

# -- /api/v1/export ---------------------------------------------------------------------------------------

EXPORT_LAYERS = ("facilities", "districts", "uncovered")
FORMAT = Param("format", "enum", "geojson: RFC 7946 (WGS84 lon/lat, counter-clockwise exterior rings, no crs member, "
               "≤ 7 decimals); csv: UTF-8 with BOM (polygons in a WKT column); gpkg: GeoPackage (EPSG:4326); kml: "
               "KML 2.2.", default="geojson", values="geo.export:DOWNLOAD_FORMATS")
LAYER = Param("layer", "enum", "facilities; districts (the polygons; filters bbox and district only); uncovered (the "
              "planner's uncovered areas, with the parameters of /api/v1/gaps and no other filter).",
              default="facilities", values=EXPORT_LAYERS)
EXPORT_CRS = Param("crs", "enum", "With format=csv, gcj02 or bd09 adds lon_gcj02/lat_gcj02 (or "
                   "lon_bd09/lat_bd09) columns for AMap/Tencent or Baidu users; other formats take only wgs84. "
                   "Geometry is always WGS84.", default="wgs84", values=vocab.DATUMS)
#: GET /api/v1/export, by layer: what each takes (uncovered: the planner's /api/v1/gaps parameters).
EXPORT: dict[str, Params] = {
    "facilities": Params(FORMAT, LAYER, EXPORT_CRS, FACILITY_FILTERS),
    "districts": Params(FORMAT, LAYER, DISTRICT_FILTERS),
    "uncovered": Params(FORMAT, LAYER, GAPS),
}

# -- /api/v1/admin ----------------------------------------------------------------------------------------

AUDIT = Params(Param("limit", "integer", "How many entries: the latest, oldest first.", default=100, lo=1,
                     hi=MAX_AUDIT_ENTRIES))
VERSIONS = Params(Param("limit", "integer", "How many versions: the latest, oldest first.", default=1000, lo=1,
                        hi=MAX_VERSIONS_LISTED))
_IMPORT_CRS = Param("crs", "enum", "Datum of the file's coordinates; GCJ-02/BD-09 are converted to WGS84.",
                    default="wgs84", values=vocab.DATUMS)
#: POST /api/v1/admin/import: the multipart form's fields besides the file.
IMPORT_FORM = Params(_IMPORT_CRS, Param("replace", "boolean", "Replace the whole registry instead of merging by id.",
                                        default=False),
                     Param("dry_run", "boolean", "Validate and report only; write nothing.", default=False))
#: POST /api/v1/admin/facilities, PATCH …/{id}: the body's member besides the facility's fields.
FACILITY_BODY = Params(replace(_IMPORT_CRS, description="Datum of lon/lat in the body; GCJ-02/BD-09 are converted "
                               "to WGS84."))
#: POST /api/v1/admin/restore: the JSON body.
RESTORE = Params(Param("version", "integer", "A version number from GET /api/v1/admin/versions.", lo=1,
                       hi=MAX_VERSION, required=True, example=1))

# -- the worker page --------------------------------------------------------------------------------------

#: GET /worker/hours: the minute at which every opening-hours expression in use is evaluated.
WORKER_HOURS = Params(Param("at", "text", "'now' (the default) or an ISO 8601 date-time (no offset = Qingdao time).",
                            default="now", max_len=40, convert=_at, allowed_text=AT_ALLOWED))
