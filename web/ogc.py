"""OGC API – Features Part 1 (Core, GeoJSON, HTML, OpenAPI 3.0) at ``/ogc``, with a proximity extension.

Collections: one per facility kind (:data:`geo.model.KINDS`), ``facilities`` with
all of them, and ``districts`` with the district polygons. Each collection has a
:class:`Source` that says which query parameters it takes and how it selects;
a new layer (say ``uncovered``, the areas beyond a 15-minute circle) is one
``Source`` subclass and one entry in :func:`collections`, and the OpenAPI
document (``web/openapi.py``) picks it up from there.

Query parameters of ``/items`` (declared in ``geo.registry_params``: :data:`FACILITY_FILTERS`,
:data:`DISTRICT_FILTERS` and :data:`PAGING`; unknown ones, and known ones without a value, are
refused with 400, as Core asks):

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
from functools import cached_property
from typing import Any

import numpy as np
from flask import Blueprint, Response, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from geo import query
from geo.export import dumps_geojson, feature_collection
from geo.hours import QINGDAO_TZ
from geo.model import CITY_BOUNDS, KINDS
from geo.params import Params
from geo.query import FacilityFilter
from geo.registry_params import DEFAULT_LIMIT, DISTRICT_FILTERS, FACILITY_FILTERS, MAX_LIMIT, OGC_DOCUMENT, PAGING
from geo.store.knn import DbRegistry
from web import state
from web.errors import ApiError
from web.maps import OSM_ATTR, OSM_TILES
from web.params import lookups
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

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
GEOJSON = "application/geo+json"


# -- collections ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Page:
    features: list[dict[str, Any]]
    #: None when not counted (a registry queried in the database: ``numberMatched`` is left out).
    number_matched: int | None
    #: Whether another page follows (read as ``limit + 1`` rows when not counted).
    more: bool = False


class Source:
    """How a collection is queried. Subclass it to add a layer."""

    #: The filters the items endpoint takes (besides :data:`~geo.registry_params.PAGING`), in documentation order.
    params: Params = Params()
    #: Prefix of its OpenAPI schemas (``<prefix>Feature``, ``<prefix>Items``, in web/openapi.py); "Any"
    #: documents features of any geometry and properties.
    schema_prefix: str = "Any"
    #: (property, heading) pairs for the HTML table.
    columns: tuple[tuple[str, str], ...] = ()

    @property
    def filters(self) -> tuple[str, ...]:
        """The names of :attr:`params`."""
        return self.params.names

    @cached_property
    def item_params(self) -> Params:
        """Everything the items endpoint takes: the filters, then limit, offset and f."""
        return Params(self.params, PAGING)

    def page(self, st: AppState, values: dict[str, Any], offset: int, limit: int) -> Page:
        """The ``limit`` matches after the first ``offset`` of the parsed filters ``values``."""
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
        self.params = FACILITY_FILTERS.without("kind") if kind else FACILITY_FILTERS

    def page(self, st, values, offset, limit):
        if isinstance(st.registry, DbRegistry):  # a large registry: SQL, limit + 1 rows, never counted
            rows, dist, more = st.registry.page(FacilityFilter.of(values, kind=self.kind), offset, limit)
            features = feature_collection(rows)["features"]
            for feat, d in zip(features, dist or (), strict=False):
                feat["properties"]["distance_m"] = round(float(d), 1)
            return Page(features, None, more)
        matches = st.facility_table.select(FacilityFilter.of(values, kind=self.kind))
        page = matches.page(offset, limit)
        features = feature_collection(page.facilities)["features"]
        if page.distances_m is not None:
            for feat, d in zip(features, page.distances_m, strict=True):
                feat["properties"]["distance_m"] = round(float(d), 1)
        return Page(features, len(matches), offset + len(features) < len(matches))

    def item(self, st, feature_id):
        f = st.registry.get(feature_id) if isinstance(st.registry, DbRegistry) else st.facility_table.get(feature_id)
        if f is None or (self.kind and f.kind != self.kind):
            return None
        return feature_collection([f])["features"][0]

    def example_id(self, st):
        if isinstance(st.registry, DbRegistry):
            return st.registry.example_id(self.kind)
        return next((f.id for f in st.facility_table.facilities
                     if f.status != "removed" and (self.kind is None or f.kind == self.kind)), None)

    def extent(self, st):
        if isinstance(st.registry, DbRegistry):  # one query per version, never the records
            box, first, last = st.registry.extent(self.kind)
            lon, lat = (np.array(box[0::2]), np.array(box[1::2])) if box else (np.empty(0), np.empty(0))
            days = np.array([first, last] if first else [], dtype="datetime64[D]")
        else:
            t = st.facility_table
            live = t.status != "removed"
            if self.kind:
                live &= t.kind == self.kind
            lon, lat, days = t.lon[live], t.lat[live], t.verified[live & ~np.isnat(t.verified)]
        out: dict[str, Any] = {"spatial": {"bbox": [_bbox_of(lon, lat)], "crs": CRS84}}
        if len(days):
            out["temporal"] = {"interval": [[_utc(days.min(), time(0)), _utc(days.max(), time(23, 59, 59))]],
                               "trs": GREGORIAN}
        return out


class DistrictSource(Source):
    """The district polygons (id = adcode)."""

    params = DISTRICT_FILTERS
    schema_prefix = "District"
    columns = (("adcode", "代码 Adcode"), ("name", "名称 Name"), ("name_en", "Name (en)"))

    def page(self, st, values, offset, limit):
        keep = query.district_mask(st.districts.frame, bbox=values["bbox"], districts=values["district"])
        selected = [f for f, k in zip(st.district_features, keep, strict=True) if k]
        return Page(selected[offset:offset + limit], len(selected), offset + limit < len(selected))

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

def _wants_html(f: str | None) -> bool:
    """HTML if ``f`` (the parsed ``f`` parameter) says so, else if the Accept header prefers it."""
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


def _self_links(endpoint: str, html: bool, json_type: str = "application/json", **values) -> list[dict[str, str]]:
    """self + alternate links for the current request's format (``html``), keeping its other query parameters."""
    args = MultiDict(request.args)
    args.pop("f", None)
    query = args.to_dict(flat=False)
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
    html = _wants_html(OGC_DOCUMENT.parse(request.args, allow_empty=False)["f"])
    links = _self_links(".landing", html) + [
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
    html = _wants_html(OGC_DOCUMENT.parse(request.args, allow_empty=False)["f"])
    doc = {"conformsTo": CONFORMANCE, "links": _self_links(".conformance", html)}
    if html:
        return _html("ogc/conformance.html", doc=doc)
    return _json(doc)


@bp.get("/collections")
def collections_view():
    """Every collection with its extent and links."""
    html = _wants_html(OGC_DOCUMENT.parse(request.args, allow_empty=False)["f"])
    st = state()
    doc = {"links": _self_links(".collections_view", html),
           "collections": [_collection_doc(c, st) for c in collections().values()]}
    if html:
        return _html("ogc/collections.html", doc=doc)
    return _json(doc)


@bp.get("/collections/<collection_id>")
def collection(collection_id: str):
    """One collection's description."""
    coll = _collection(collection_id)
    html = _wants_html(OGC_DOCUMENT.parse(request.args, allow_empty=False)["f"])
    doc = _collection_doc(coll, state())
    if html:
        return _html("ogc/collection.html", doc=doc, coll=coll)
    return _json(doc)


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str):
    """Features of a collection: filtered, ordered (by distance with ``near``) and paged."""
    coll = _collection(collection_id)
    args = request.args
    st = state()
    values = coll.source.item_params.parse(args, allow_empty=False, lookups=lookups(st))
    html = _wants_html(values["f"])
    limit, offset = min(values["limit"], MAX_LIMIT), values["offset"]  # a larger limit is served as MAX_LIMIT
    page = coll.source.page(st, values, offset, limit)

    query = MultiDict(args)
    query.pop("f", None)
    query.pop("offset", None)
    query["limit"] = str(limit)
    fmt, media = ("html", "text/html") if html else ("json", GEOJSON)

    def page_url(at: int) -> str:
        return url_for(".items", collection_id=coll.id, _external=True, **query.to_dict(flat=False),
                       offset=at, f=fmt)

    links = _self_links(".items", html, GEOJSON, collection_id=coll.id)
    if page.more:
        links.append(_link(page_url(offset + limit), "next", media, "next page"))
    if offset > 0:
        links.append(_link(page_url(max(0, offset - limit)), "prev", media, "previous page"))
    links.append(_link(url_for(".collection", collection_id=coll.id, _external=True, f="json"), "collection",
                       "application/json", "the collection"))
    doc = {
        "type": "FeatureCollection",
        **({} if page.number_matched is None else {"numberMatched": page.number_matched}),
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
    html = _wants_html(OGC_DOCUMENT.parse(request.args, allow_empty=False)["f"])
    feature = coll.source.item(state(), feature_id)
    if feature is None:
        raise ApiError(404, f"no feature {feature_id[:80]!r} in collection {coll.id!r}",
                       parameter="featureId", value=feature_id)
    doc = dict(feature)
    doc["links"] = _self_links(".item", html, GEOJSON, collection_id=coll.id, feature_id=feature_id) + [
        _link(url_for(".collection", collection_id=coll.id, _external=True, f="json"), "collection",
              "application/json", "the collection"),
    ]
    if html:
        return _html("ogc/item.html", doc=doc, coll=coll)
    return _json(doc, GEOJSON)
