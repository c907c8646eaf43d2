"""OGC API – Features Part 1 (Core, GeoJSON, HTML, OpenAPI 3.0) at ``/ogc``, with a proximity extension.

Collections: one per facility kind (:data:`geo.model.KINDS`), ``facilities`` with
all of them, and ``districts`` with the district polygons. Each collection has a
:class:`Source` that says which query parameters it takes and how it selects;
a new layer (say ``uncovered``, the areas beyond a 15-minute circle) is one
``Source`` subclass and one entry in :func:`collections`, and the OpenAPI
document (``web/openapi.py``) picks it up from there.

Query parameters of ``/items`` (unknown ones are refused with 400, as Core asks):

* ``bbox`` — ``lon_min,lat_min,lon_max,lat_max`` (CRS84; 6 numbers with heights also accepted).
* ``limit`` (default 100; larger than 10,000 is served as 10,000, as the standard
  asks) and ``offset``; ``next``/``prev`` links page through.
* ``datetime`` — an RFC 3339 instant or interval (``../2025-06-30``) on ``verified_at``.
* ``kind`` (``facilities`` only), ``district`` (adcode or name), ``amenity`` (all
  required), ``status`` (removed facilities only when asked for by name) —
  comma-separated lists.
* Proximity extension: ``near=lon,lat`` orders by geodesic distance and adds a
  ``distance_m`` property; ``radius_m`` keeps those within it.
* ``f=json|html`` (else the ``Accept`` header decides).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

import numpy as np
from flask import Blueprint, Response, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from geo import query
from geo.export import dumps_geojson, feature_collection
from geo.hours import QINGDAO_TZ
from geo.model import AMENITIES, CITY_BOUNDS, CITY_BOUNDS_TEXT, KINDS, STATUS, in_city_bounds
from geo.params import MAX_RADIUS_M
from geo.query import FacilityFilter, parse_bbox, parse_datetime
from web import params, state
from web.errors import ApiError, bad_param
from web.maps import OSM_ATTR, OSM_TILES
from web.state import AppState

__all__ = [
    "CONFORMANCE",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Collection",
    "DistrictSource",
    "FacilitySource",
    "Source",
    "bp",
    "collections",
]

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
GEOJSON = "application/geo+json"
BBOX_ALLOWED = "4 or 6 comma-separated numbers lon_min,lat_min,lon_max,lat_max (WGS84, CRS84 axis order)"
DATETIME_ALLOWED = ("an RFC 3339 date or date-time, or an interval start/end with '..' for an open end, "
                    "e.g. 2025-06-18, 2025-01-01/2025-06-30, ../2025-06-30T12:00:00Z")
NEAR_ALLOWED = f"lon,lat inside Qingdao ({CITY_BOUNDS_TEXT}, WGS84)"
RADIUS_ALLOWED = f"a number of metres > 0 and ≤ {MAX_RADIUS_M}"


# -- parameters shared with the export endpoint ----------------------------------------------------

def check_args(args, allowed) -> None:
    """Refuse unknown parameters, and known ones given without a value (``bbox=``): both are 400s."""
    params.reject_unknown(args, allowed)
    for name in args:
        if any(not v.strip() for v in args.getlist(name)):
            raise bad_param(name, "", "a value (or leave the parameter out)",
                            f"{name} is empty; give it a value or leave it out")


def parse_bbox_param(args) -> tuple[float, float, float, float] | None:
    """``bbox`` as 4 floats, or None; a 400 naming the problem otherwise."""
    raw = params.text(args, "bbox", max_len=200)
    if raw is None:
        return None
    try:
        return parse_bbox([float(v) for v in raw.split(",")])
    except ValueError as exc:
        detail = str(exc) if "bbox" in str(exc) else "a value is not a number"
        raise bad_param("bbox", raw, BBOX_ALLOWED,
                        f"bbox must be {BBOX_ALLOWED}, got {raw[:80]!r}: {detail}") from None


def parse_datetime_param(args):
    """``datetime`` as a :class:`geo.query.DateRange`, or None."""
    raw = params.text(args, "datetime", max_len=100)
    if raw is None:
        return None
    try:
        return parse_datetime(raw)
    except ValueError as exc:
        raise bad_param("datetime", raw, DATETIME_ALLOWED,
                        f"datetime must be {DATETIME_ALLOWED}; got {raw[:80]!r}: {exc}") from None


def parse_near_params(args) -> tuple[tuple[float, float] | None, float | None]:
    """``near`` (lon, lat in Qingdao) and ``radius_m``; radius without near is refused."""
    raw = params.text(args, "near", max_len=100)
    near = None
    if raw is not None:
        try:
            lon, lat = (float(v) for v in raw.split(","))
        except ValueError:
            raise bad_param("near", raw, NEAR_ALLOWED) from None
        if not in_city_bounds(lon, lat):
            hint = " (lon and lat swapped? lon comes first)" if in_city_bounds(lat, lon) else ""
            raise bad_param("near", raw, NEAR_ALLOWED, f"near must be {NEAR_ALLOWED}, got {raw[:80]!r}{hint}")
        near = (lon, lat)
    raw_radius = args.get("radius_m")
    radius = params.number(args, "radius_m", None, what=" of metres")
    if radius is not None and not 0 < radius <= MAX_RADIUS_M:
        raise bad_param("radius_m", raw_radius, RADIUS_ALLOWED)
    if radius is not None and near is None:
        raise bad_param("radius_m", raw_radius, "used together with near=lon,lat",
                        f"radius_m={raw_radius[:40]} needs near=lon,lat (the point to measure from)")
    return near, radius


def parse_districts_param(args, st: AppState) -> tuple[str, ...]:
    """``district``: comma-separated adcodes or names (Chinese or English), returned as adcodes."""
    out: list[str] = []
    for raw in args.getlist("district"):
        if len(raw) > params.MAX_PARAM_LEN:
            raise bad_param("district", raw[:40] + "…", f"at most {params.MAX_PARAM_LEN} characters")
        for value in (v.strip() for v in raw.split(",")):
            if not value:
                continue
            adcode = value if value in st.districts.adcodes else st.districts.adcode_of_name(value)
            if adcode is None:
                raise bad_param("district", value, "Qingdao district adcodes or names (e.g. 370202, 市南区, "
                                f"Shinan), one or more of {', '.join(st.districts.adcodes)}")
            if adcode not in out:
                out.append(adcode)
    return tuple(out)


def facility_filter(args, st: AppState, *, kind: str | None = None) -> FacilityFilter:
    """The :class:`FacilityFilter` a request asks for (``kind`` fixes the kind of a one-kind collection)."""
    near, radius = parse_near_params(args)
    kinds = (kind,) if kind else tuple(params.choices(args, "kind", KINDS))
    return FacilityFilter(
        bbox=parse_bbox_param(args),
        kinds=kinds,
        districts=parse_districts_param(args, st),
        amenities=tuple(params.choices(args, "amenity", AMENITIES)),
        statuses=tuple(params.choices(args, "status", STATUS)),
        verified=parse_datetime_param(args),
        near=near,
        radius_m=radius,
    )


def district_mask(args, st: AppState) -> np.ndarray:
    """Which districts (in ``st.districts.frame`` order) pass ``bbox`` and ``district``."""
    return query.district_mask(st.districts.frame, bbox=parse_bbox_param(args),
                               districts=parse_districts_param(args, st))


# -- collections ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Page:
    features: list[dict[str, Any]]
    number_matched: int


class Source:
    """How a collection is queried. Subclass it to add a layer."""

    #: Filter parameters the items endpoint takes (besides limit, offset and f), in documentation order.
    filters: tuple[str, ...] = ("bbox",)
    #: Prefix of its OpenAPI schemas (``<prefix>Feature``, ``<prefix>Items``, in web/openapi.py); "Any"
    #: documents features of any geometry and properties.
    schema_prefix: str = "Any"
    #: (property, heading) pairs for the HTML table.
    columns: tuple[tuple[str, str], ...] = ()

    def page(self, st: AppState, args, offset: int, limit: int) -> Page:
        raise NotImplementedError

    def item(self, st: AppState, feature_id: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def extent(self, st: AppState) -> dict[str, Any]:
        raise NotImplementedError

    def example_id(self, st: AppState) -> str | None:
        """An id that exists (for the API documentation's examples)."""
        return None


def _bbox_of(lon: np.ndarray, lat: np.ndarray) -> list[float]:
    if not len(lon):
        b = CITY_BOUNDS
        return [b["lon_min"], b["lat_min"], b["lon_max"], b["lat_max"]]
    return [round(float(v), 7) for v in (lon.min(), lat.min(), lon.max(), lat.max())]


def _utc(day: np.datetime64, at: time) -> str:
    local = datetime.combine(day.astype("datetime64[D]").item(), at, QINGDAO_TZ)
    return local.astimezone(UTC).isoformat().replace("+00:00", "Z")


class FacilitySource(Source):
    """Facilities, all or of one kind."""

    schema_prefix = "Facility"
    columns = (("name", "名称 Name"), ("kind", "类型 Kind"), ("district", "区 District"),
               ("status", "状态 Status"), ("opening_hours", "开放时间 Hours"),
               ("verified_at", "核验 Verified"))

    def __init__(self, kind: str | None = None):
        self.kind = kind
        self.filters = ("bbox", "datetime", *(() if kind else ("kind",)), "district", "amenity", "status",
                        "near", "radius_m")

    def page(self, st, args, offset, limit):
        matches = st.facility_table.select(facility_filter(args, st, kind=self.kind))
        page = matches.page(offset, limit)
        features = feature_collection(page.facilities)["features"]
        if page.distances_m is not None:
            for feat, d in zip(features, page.distances_m, strict=True):
                feat["properties"]["distance_m"] = round(float(d), 1)
        return Page(features, len(matches))

    def item(self, st, feature_id):
        f = st.facility_table.get(feature_id)
        if f is None or (self.kind and f.kind != self.kind):
            return None
        return feature_collection([f])["features"][0]

    def example_id(self, st):
        return next((f.id for f in st.facility_table.facilities
                     if f.status != "removed" and (self.kind is None or f.kind == self.kind)), None)

    def extent(self, st):
        t = st.facility_table
        live = t.status != "removed"
        if self.kind:
            live &= t.kind == self.kind
        days = t.verified[live & ~np.isnat(t.verified)]
        out: dict[str, Any] = {"spatial": {"bbox": [_bbox_of(t.lon[live], t.lat[live])], "crs": CRS84}}
        if len(days):
            out["temporal"] = {"interval": [[_utc(days.min(), time(0)), _utc(days.max(), time(23, 59, 59))]],
                               "trs": GREGORIAN}
        return out


class DistrictSource(Source):
    """The district polygons (id = adcode)."""

    filters = ("bbox", "district")
    schema_prefix = "District"
    columns = (("adcode", "代码 Adcode"), ("name", "名称 Name"), ("name_en", "Name (en)"))

    def page(self, st, args, offset, limit):
        keep = district_mask(args, st)
        selected = [f for f, k in zip(st.district_features, keep, strict=True) if k]
        return Page(selected[offset:offset + limit], len(selected))

    def item(self, st, feature_id):
        return next((f for f in st.district_features if f["id"] == feature_id), None)

    def example_id(self, st):
        return st.district_features[0]["id"] if st.district_features else None

    def extent(self, st):
        minx, miny, maxx, maxy = st.districts.frame.total_bounds
        return {"spatial": {"bbox": [[round(float(v), 7) for v in (minx, miny, maxx, maxy)]], "crs": CRS84}}


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    source: Source


def collections() -> dict[str, Collection]:
    """Every collection, by id: the kinds, then ``facilities``, then ``districts``."""
    return _COLLECTIONS


_COLLECTIONS: dict[str, Collection] = {
    **{k: Collection(k, f"{label.zh} / {label.en}",
                     f"{label.en} facilities of Qingdao's trade unions "
                     "(status 'removed' only when asked for).", FacilitySource(k))
       for k, label in KINDS.items()},
    "facilities": Collection("facilities", "全部职工服务设施 / All worker facilities",
                             "Every facility kind in one collection; filter with kind=.", FacilitySource()),
    "districts": Collection("districts", "青岛市区（市）/ Qingdao districts",
                            "The 10 county-level districts (polygons, id = adcode).", DistrictSource()),
}


# -- responses -----------------------------------------------------------------------------------

def _wants_html(args) -> bool:
    f = params.choice(args, "f", ("json", "html"))
    if f is not None:
        return f == "html"
    best = request.accept_mimetypes.best_match(["application/json", GEOJSON, "text/html"],
                                               default="application/json")
    return best == "text/html"


def _link(href: str, rel: str, media_type: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": media_type}
    if title:
        link["title"] = title
    return link


def _self_links(endpoint: str, json_type: str = "application/json", **values) -> list[dict[str, str]]:
    """self + alternate links for the current request's format, keeping its other query parameters."""
    args = MultiDict(request.args)
    args.pop("f", None)
    query = args.to_dict(flat=False)
    html = _wants_html(request.args)
    as_json = url_for(endpoint, _external=True, **values, **query, f="json")
    as_html = url_for(endpoint, _external=True, **values, **query, f="html")
    return [
        _link(as_html if html else as_json, "self", "text/html" if html else json_type, "this document"),
        _link(as_json if html else as_html, "alternate", json_type if html else "text/html",
              "this document as JSON" if html else "this document as HTML"),
    ]


def _json(doc: dict[str, Any], media_type: str = "application/json") -> Response:
    resp = Response(dumps_geojson(doc), mimetype=media_type)
    resp.headers["Vary"] = "Accept"
    return resp


def _html(template: str, **context) -> Response:
    """An HTML view; its Content-Security-Policy (own scripts only) comes from web/security.py."""
    st = state()
    resp = Response(render_template(template, sample=st.registry.is_sample, tiles=OSM_TILES,
                                    tiles_attribution=OSM_ATTR, **context), mimetype="text/html")
    resp.headers["Vary"] = "Accept"
    return resp


def _collection(collection_id: str) -> Collection:
    coll = collections().get(collection_id)
    if coll is None:
        ids = list(collections())
        raise ApiError(404, f"collection {collection_id[:80]!r} does not exist; collections: "
                       f"{', '.join(ids)}", parameter="collectionId", value=collection_id, allowed=ids)
    return coll


def _collection_doc(coll: Collection, st: AppState) -> dict[str, Any]:
    items = url_for(".items", collection_id=coll.id, _external=True)
    return {
        "id": coll.id,
        "title": coll.title,
        "description": coll.description,
        "itemType": "feature",
        "crs": [CRS84],
        "extent": coll.source.extent(st),
        "links": [
            _link(url_for(".collection", collection_id=coll.id, _external=True, f="json"), "self",
                  "application/json", "this collection"),
            _link(url_for(".collection", collection_id=coll.id, _external=True, f="html"), "alternate",
                  "text/html", "this collection as HTML"),
            _link(items + "?f=json", "items", GEOJSON, "items as GeoJSON"),
            _link(items + "?f=html", "items", "text/html", "items as HTML"),
        ],
    }


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# -- views ---------------------------------------------------------------------------------------

@bp.get("", strict_slashes=False)
def landing():
    """Landing page: links to the API definition, conformance and the collections."""
    check_args(request.args, ("f",))
    html = _wants_html(request.args)
    links = _self_links(".landing") + [
        _link(url_for("openapi.spec", _external=True), "service-desc",
              "application/vnd.oai.openapi+json;version=3.0", "the API definition (OpenAPI 3.0)"),
        _link(url_for("openapi.docs", _external=True), "service-doc", "text/html", "the API documentation"),
        _link(url_for(".conformance", _external=True, f="json"), "conformance", "application/json",
              "conformance classes"),
        _link(url_for(".collections_view", _external=True, f="json"), "data", "application/json",
              "the collections"),
    ]
    doc = {
        "title": "青岛职工服务地图 OGC API – Features / Qingdao worker service map",
        "description": "Trade-union worker stations, shared worker homes, nursing-mother rooms, childcare "
                       "stations, worker apartments and district polygons (WGS84)."
                       + (" SAMPLE DATA: generated records, not the union's real list." if
                          state().registry.is_sample else ""),
        "links": links,
    }
    if html:
        return _html("ogc/landing.html", doc=doc, collections=collections().values())
    return _json(doc)


@bp.get("/conformance")
def conformance():
    """The conformance classes this API implements."""
    check_args(request.args, ("f",))
    doc = {"conformsTo": CONFORMANCE, "links": _self_links(".conformance")}
    if _wants_html(request.args):
        return _html("ogc/conformance.html", doc=doc)
    return _json(doc)


@bp.get("/collections")
def collections_view():
    """Every collection with its extent and links."""
    check_args(request.args, ("f",))
    st = state()
    doc = {"links": _self_links(".collections_view"),
           "collections": [_collection_doc(c, st) for c in collections().values()]}
    if _wants_html(request.args):
        return _html("ogc/collections.html", doc=doc)
    return _json(doc)


@bp.get("/collections/<collection_id>")
def collection(collection_id: str):
    """One collection's description."""
    coll = _collection(collection_id)
    check_args(request.args, ("f",))
    doc = _collection_doc(coll, state())
    if _wants_html(request.args):
        return _html("ogc/collection.html", doc=doc, coll=coll)
    return _json(doc)


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str):
    """Features of a collection: filtered, ordered (by distance with ``near``) and paged."""
    coll = _collection(collection_id)
    args = request.args
    check_args(args, (*coll.source.filters, "limit", "offset", "f"))
    html = _wants_html(args)
    limit = min(int(params.number(args, "limit", DEFAULT_LIMIT, lo=1, integer=True)), MAX_LIMIT)
    offset = int(params.number(args, "offset", 0, lo=0, integer=True))
    st = state()
    page = coll.source.page(st, args, offset, limit)

    query = MultiDict(args)
    query.pop("f", None)
    query.pop("offset", None)
    query["limit"] = str(limit)
    fmt, media = ("html", "text/html") if html else ("json", GEOJSON)

    def page_url(at: int) -> str:
        return url_for(".items", collection_id=coll.id, _external=True, **query.to_dict(flat=False),
                       offset=at, f=fmt)

    links = _self_links(".items", GEOJSON, collection_id=coll.id)
    if offset + len(page.features) < page.number_matched:
        links.append(_link(page_url(offset + limit), "next", media, "next page"))
    if offset > 0:
        links.append(_link(page_url(max(0, offset - limit)), "prev", media, "previous page"))
    links.append(_link(url_for(".collection", collection_id=coll.id, _external=True, f="json"), "collection",
                       "application/json", "the collection"))
    doc = {
        "type": "FeatureCollection",
        "numberMatched": page.number_matched,
        "numberReturned": len(page.features),
        "timeStamp": _now(),
        "links": links,
        "features": page.features,
    }
    if html:
        return _html("ogc/items.html", doc=doc, coll=coll, offset=offset,
                     link={lk["rel"]: lk["href"] for lk in links if lk["rel"] in ("next", "prev")})
    return _json(doc, GEOJSON)


@bp.get("/collections/<collection_id>/items/<feature_id>")
def item(collection_id: str, feature_id: str):
    """One feature by id (removed facilities too: their ``status`` says so)."""
    coll = _collection(collection_id)
    check_args(request.args, ("f",))
    feature = coll.source.item(state(), feature_id)
    if feature is None:
        raise ApiError(404, f"no feature {feature_id[:80]!r} in collection {coll.id!r}",
                       parameter="featureId", value=feature_id)
    doc = dict(feature)
    doc["links"] = _self_links(".item", GEOJSON, collection_id=coll.id, feature_id=feature_id) + [
        _link(url_for(".collection", collection_id=coll.id, _external=True, f="json"), "collection",
              "application/json", "the collection"),
    ]
    if _wants_html(request.args):
        return _html("ogc/item.html", doc=doc, coll=coll)
    return _json(doc, GEOJSON)
