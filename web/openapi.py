"""The OpenAPI 3.0 description of every endpoint, served at /api/openapi.json and rendered at /api/docs.

The whole document is built here, from the same tables the views use: the parameters from their
declarations (``geo.params``, ``geo.registry_params``, ``geo.planner_params``: the views parse with the
same ones), the vocabularies from ``geo.model``, the OGC collections from ``web.ogc``; so a new kind,
amenity, collection or parameter is documented without touching this file. To document a new
endpoint add its path (and the schemas of its answers); ``tests/test_openapi.py`` fails while a route is
undocumented, ``tests/test_response_fields.py`` while an answer has a field its schema does not list.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for

from geo import planner_params
from geo.city_planner import needs_city
from geo.coverage import DEMANDS, MODES, WhatIf
from geo.datum import DATUMS
from geo.edits import EDITABLE
from geo.export import DOWNLOAD_FORMATS, dumps_geojson
from geo.model import ACCESS, AMENITIES, ENTRY, FIELDS, KINDS, STATUS, VOCABULARIES, WORKER_TYPES
from geo.overlay import CLASSES
from geo.params import MAX_BATCH, MAX_ROUTED_BATCH, NEAREST, SEARCH, TRAVEL, Params
from geo.regions import active_region, whole_region
from geo.registry_params import (
    AUDIT,
    EXPORT,
    FACILITIES,
    FACILITY_BODY,
    FACILITY_FILTERS,
    IMPORT_FORM,
    NO_PARAMETERS,
    PAGING,
    RESTORE,
    VERSIONS,
)
from geo.report_params import (
    MAX_BODY_BYTES,
    QUEUE,
    RATE_LIMIT,
    REPORT_BODY,
    REPORT_KINDS,
    REPORT_STATUSES,
    RESOLVE,
    SUMMARY,
)
from geo.search import TYPES as SEARCH_TYPES
from geo.siting import MAX_ADD, METHODS
from web import nearest_api, ogc, state

__all__ = ["OPENAPI_MEDIA_TYPE", "bp", "build_spec"]

bp = Blueprint("openapi", __name__, url_prefix="/api")

OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"
GEOJSON = "application/geo+json"
BATCH_IGNORES = nearest_api.BATCH_IGNORES

Schema = dict[str, Any]


def _ref(section: str, name: str) -> Schema:
    return {"$ref": f"#/components/{section}/{name}"}


def _enum(values) -> Schema:
    return {"type": "string", "enum": list(values)}


def _list_param(name: str, values, description: str) -> Schema:
    """A comma-separated list parameter (``kind=station,apartment``), each value from ``values``."""
    return {"name": name, "in": "query", "required": False, "style": "form", "explode": False,
            "description": description, "schema": {"type": "array", "items": _enum(values)}}


def _query(name: str, schema: Schema, description: str, *, required: bool = False, **extra) -> Schema:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema,
            **extra}


def _json(schema: Schema, description: str, media: str = "application/json", *, html: bool = False) -> Schema:
    content = {media: {"schema": schema}}
    if html:
        content["text/html"] = {"schema": {"type": "string"}}
    return {"description": description, "content": content}


# -- parameters ------------------------------------------------------------------------------------

def _parameters(district_values: tuple[str, ...]) -> dict[str, Schema]:
    """The OGC API items parameters (``geo.registry_params``), referenced by the items paths."""
    declared = Params(FACILITY_FILTERS, PAGING).openapi({"district": district_values})
    return {p["name"]: p for p in declared}


def _feature_id(example: str | None) -> Schema:
    param: Schema = {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"},
                     "description": "The feature's id (facility id, or district adcode)."}
    if example:
        param["example"] = example
    return param


# -- schemas ---------------------------------------------------------------------------------------

_NULLABLE_NUMBER = {"type": "number", "nullable": True}
_FACILITY_TYPES: dict[str, Schema] = {
    "kind": _enum(KINDS),
    "amenities": {"type": "array", "items": _enum(AMENITIES)},
    "access": _enum(ACCESS),
    "entry": {"type": "array", "items": _enum(ENTRY)},
    "capacity": {"type": "integer", "nullable": True},
    "status": _enum(STATUS),
    "verified_at": {"type": "string", "description": "YYYY-MM-DD, or empty if never verified"},
    "sample": {"type": "boolean", "description": "a generated sample record, not real data"},
    "opening_hours": {"type": "string", "nullable": True,
                      "description": "OSM opening_hours syntax (PH = China's statutory holidays); null = unknown"},
    "workday_calendar": {"type": "boolean", "description": "follows China's working calendar: closed on statutory "
                         "holidays unless its hours say otherwise, open on make-up working days (调休) with the "
                         "hours of the weekday replaced"},
    "source_crs": _enum(DATUMS),
    "source_lon": _NULLABLE_NUMBER,
    "source_lat": _NULLABLE_NUMBER,
    "lon": {"type": "number"},
    "lat": {"type": "number"},
}


def _facility_properties(*, with_coordinates: bool = False) -> Schema:
    props = {f: _FACILITY_TYPES.get(f, {"type": "string"}) for f in FIELDS
             if with_coordinates or f not in ("lon", "lat")}
    props["hours_known"] = {"type": "boolean", "description": "false: opening_hours is unknown (never counted as open "
                            "unless include_unknown_hours)"}
    return {"type": "object", "required": ["id", "kind", "name", "status"], "properties": props}


def _feature(geometry: Schema, properties: Schema) -> Schema:
    return {
        "type": "object", "required": ["type", "geometry", "properties"],
        "properties": {
            "type": _enum(("Feature",)),
            "id": {"type": "string"},
            "geometry": geometry,
            "properties": properties,
            "links": {"type": "array", "items": _ref("schemas", "Link")},
        },
    }


def _collection_of(feature: Schema, **extra: Schema) -> Schema:
    return {"type": "object", "required": ["type", "features"],
            "properties": {"type": _enum(("FeatureCollection",)), **extra,
                           "features": {"type": "array", "items": feature}}}


def _schemas() -> dict[str, Schema]:
    position = {"type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "number"}}
    links = {"type": "array", "items": _ref("schemas", "Link")}
    facility_props = _facility_properties()
    facility_props["properties"]["distance_m"] = {
        "type": "number", "description": "geodesic metres from near (only with near)"}
    hit = _facility_properties(with_coordinates=True)
    hit["properties"].update({
        "distance_m": {"type": "number"}, "bearing_deg": {"type": "number"},
        "walk_min": {"type": "number"},
        "ebike_min": {"type": "number", "nullable": True,
                      "description": "null: by travel=land or network no e-bike route reaches it (walking does)"},
        "within_radius": {"type": "boolean"}, "available": {"type": "boolean"},
        "open_now": {"type": "boolean", "nullable": True, "description": "null: the hours are unknown"},
        "closes_at": {"type": "string", "nullable": True}, "opens_at": {"type": "string", "nullable": True},
        "navigation": {
            "type": "object", "required": ["amap", "baidu", "geo"],
            "description": "links that open the route in a map app (geo.navigation)",
            "properties": {
                "amap": {"type": "string", "description": "AMap (Gaode) web URI, destination in GCJ-02"},
                "baidu": {"type": "string", "description": "Baidu web URI from the query point, in BD-09"},
                "geo": {"type": "string", "description": "geo: URI (RFC 5870, WGS84) for any map app"}}},
    })
    hit["required"] = ["id", "kind", "name", "lon", "lat", "distance_m"]
    # what a nearest answer says it applied: the declared options (without their ranges: the settings give the
    # travel defaults), open_at as the minute evaluated
    applied = {p.name: {k: v for k, v in p.schema().items() if k not in ("minimum", "maximum", "default")}
               for p in NEAREST.without("lon", "lat")}
    applied = {name: {**schema, "nullable": True} for name, schema in applied.items()}
    applied["open_at"] = {"type": "string", "nullable": True,
                          "description": "the minute evaluated (ISO 8601, +08:00); null: no hours filter"}
    applied["hours_filter"] = {"type": "boolean"}
    calendar = {"calendar_until": {"type": "string", "format": "date", "description": "the last day China's "
                                   "public-holiday calendar (PH, make-up working days) covers"},
                "calendar_covered": {"type": "boolean", "description": "whether the evaluated day is within the "
                                     "calendar; false: no day counts as a public holiday (PH rules not applied)"}}
    parameters = _object(list(applied), **applied)
    parameters["description"] = "the options applied (defaults filled in)"
    count = {"type": "integer", "minimum": 0}
    label = _object(["zh", "en"], zh={"type": "string"}, en={"type": "string"})
    return {
        "Error": {
            "type": "object", "required": ["error"],
            "description": "The one error shape of every endpoint.",
            "properties": {"error": {
                "type": "object", "required": ["status", "code", "message"],
                "properties": {
                    "status": {"type": "integer", "description": "the HTTP status"},
                    "code": {"type": "string", "example": "invalid_parameter"},
                    "message": {"type": "string", "description": "names the parameter, bad value and what is "
                                                                 "allowed"},
                    "parameter": {"type": "string"},
                    "value": {"type": "string"},
                    "allowed": {"description": "what the parameter accepts (text or list)"},
                    "details": {"type": "array", "items": {}},
                },
            }},
            "example": {"error": {"status": 400, "code": "invalid_parameter",
                                  "message": "kind must be one or more of station, …, got 'spaceport'",
                                  "parameter": "kind", "value": "spaceport", "allowed": "one or more of …"}},
        },
        "Link": {"type": "object", "required": ["href", "rel"],
                 "properties": {"href": {"type": "string"}, "rel": {"type": "string"},
                                "type": {"type": "string"}, "title": {"type": "string"}}},
        "LandingPage": {"type": "object", "required": ["links"],
                        "properties": {"title": {"type": "string"}, "description": {"type": "string"},
                                       "links": links}},
        "ConfClasses": {"type": "object", "required": ["conformsTo"],
                        "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}},
                                       "links": links}},
        "Collection": {
            "type": "object", "required": ["id", "links"],
            "properties": {
                "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
                "links": links, "itemType": {"type": "string"},
                "crs": {"type": "array", "items": {"type": "string"}},
                "extent": {"type": "object", "properties": {
                    "spatial": {"type": "object", "properties": {
                        "bbox": {"type": "array", "items": {"type": "array", "minItems": 4, "maxItems": 6,
                                                           "items": {"type": "number"}}},
                        "crs": {"type": "string"}}},
                    "temporal": {"type": "object", "properties": {
                        "interval": {"type": "array", "items": {
                            "type": "array", "minItems": 2, "maxItems": 2,
                            "items": {"type": "string", "format": "date-time", "nullable": True}}},
                        "trs": {"type": "string"}}},
                }},
            },
        },
        "Collections": {"type": "object", "required": ["links", "collections"],
                        "properties": {"links": links,
                                       "collections": {"type": "array",
                                                       "items": _ref("schemas", "Collection")}}},
        "PointGeometry": {"type": "object", "required": ["type", "coordinates"],
                          "properties": {"type": _enum(("Point",)), "coordinates": position}},
        "PolygonalGeometry": {
            "type": "object", "required": ["type", "coordinates"],
            "description": "Polygon or MultiPolygon; exterior rings counter-clockwise (RFC 7946).",
            "properties": {"type": _enum(("Polygon", "MultiPolygon")),
                           "coordinates": {"type": "array", "items": {"type": "array", "items": {}}}},
        },
        "FacilityProperties": facility_props,
        "DistrictProperties": {"type": "object", "required": ["adcode", "name"],
                               "properties": {"adcode": {"type": "string"}, "name": {"type": "string"},
                                              "name_en": {"type": "string"}}},
        "FacilityFeature": _feature(_ref("schemas", "PointGeometry"), _ref("schemas", "FacilityProperties")),
        "DistrictFeature": _feature(_ref("schemas", "PolygonalGeometry"),
                                    _ref("schemas", "DistrictProperties")),
        "AnyFeature": _feature({"type": "object", "required": ["type"]},
                               {"type": "object", "nullable": True}),
        "AnyItems": _collection_of(_ref("schemas", "AnyFeature"), **_paging()),
        "FacilityItems": _collection_of(_ref("schemas", "FacilityFeature"), **_paging()),
        "DistrictItems": _collection_of(_ref("schemas", "DistrictFeature"), **_paging()),
        "FacilitiesGeoJSON": _collection_of(_ref("schemas", "FacilityFeature"), metadata=_object(
            ["sample", "count", "version"], sample={"type": "boolean"}, count=count,
            version={"type": "string", "description": "the registry version"})),
        "DistrictsGeoJSON": _collection_of(
            {"type": "object", "properties": {"type": _enum(("Feature",)), "id": {"type": "string"},
                                              "geometry": _ref("schemas", "PolygonalGeometry"),
                                              "properties": _ref("schemas", "DistrictProperties")}}),
        "ExportGeoJSON": {
            "description": "By layer: facilities (their properties, distance_m with near), districts, or the "
                           "uncovered areas (as /api/v1/gaps).",
            "anyOf": [
                _collection_of(_ref("schemas", "FacilityFeature"),
                               metadata=_object(["sample", "count"], sample={"type": "boolean"}, count=count)),
                _collection_of(_ref("schemas", "DistrictFeature"),
                               metadata=_object(["sample", "count"], sample={"type": "boolean"}, count=count)),
                _ref("schemas", "Gaps")]},
        "Meta": _object(
            ["sample", "registry_version", "counts", *VOCABULARIES, "assumptions", "region"],
            sample={"type": "boolean"}, registry_version={"type": "string"},
            counts=_object(
                ["total", "by_kind", "by_status", "by_district", "stations_24_7", "sample_records"], total=count,
                by_kind={"type": "object", "additionalProperties": count, "description": "by kind (removed too)"},
                by_status={"type": "object", "additionalProperties": count},
                by_district={"type": "object", "additionalProperties": count, "description": "by district name"},
                stations_24_7={**count, "description": "live stations open 24/7"},
                sample_records={**count, "description": "generated sample records"}),
            **{name: _object(list(table), **dict.fromkeys(table, label)) for name, table in VOCABULARIES.items()},
            assumptions=_object(list(TRAVEL.names), **{name: {"type": "number"} for name in TRAVEL.names}),
            region=_object(  # geo.regions.Region.metadata
                ["adcode", "name", "name_en", "level", "unit_level", "bounds", "modelled_demand", "boundaries"],
                adcode={"type": "string", "description": "WORKERMAP_REGION"}, name={"type": "string"},
                name_en={"type": "string"}, level=_enum(("country", "province", "prefecture", "county")),
                unit_level=_enum(("province", "prefecture", "county")),
                bounds=_object(["lon_min", "lon_max", "lat_min", "lat_max"],
                               **dict.fromkeys(("lon_min", "lon_max", "lat_min", "lat_max"), {"type": "number"})),
                modelled_demand={"type": "boolean", "description": "the shipped modelled grid covers it (Qingdao)"},
                boundaries={"type": "object", "additionalProperties": {"type": "string"},
                            "description": "source, licence, datum conversion of the boundaries"})),
        "NearestHit": hit,
        "TravelModel": _travel_model(),
        "NearestResult": {
            "type": "object", "required": ["query", "parameters", "count", "hits"],
            "properties": {"query": _object(["lon", "lat", "crs", "lon_wgs84", "lat_wgs84"], lon={"type": "number"},
                                            lat={"type": "number"}, crs=_enum(DATUMS),
                                            lon_wgs84={"type": "number"}, lat_wgs84={"type": "number"}),
                           "parameters": parameters, "travel": _ref("schemas", "TravelModel"),
                           "evaluated_at": {"type": "string"}, **calendar, "eligible": {"type": "integer"},
                           "sample": {"type": "boolean"}, "count": {"type": "integer"},
                           "hits": {"type": "array", "items": _ref("schemas", "NearestHit")}},
        },
        "NearestBatchRequest": _nearest_body(),
        "NearestBatchResult": {
            "type": "object", "required": ["count", "results"],
            "properties": {
                "parameters": parameters, "travel": _ref("schemas", "TravelModel"), "evaluated_at": {"type": "string"},
                **calendar, "eligible": {"type": "integer"}, "count": {"type": "integer"},
                "distance": {"type": "string"},
                "results": {"type": "array", "description": "per point, its nearest facilities",
                            "items": {"type": "array", "items": {
                                "type": "object", "required": ["id", "distance_m"],
                                "properties": {"id": {"type": "string"}, "distance_m": {"type": "number"},
                                               "walk_min": {"type": "number"},
                                               "ebike_min": {"type": "number", "nullable": True}}}}},
            },
        },
    }


def _paging() -> dict[str, Schema]:
    return {
        "numberMatched": {"type": "integer", "minimum": 0},
        "numberReturned": {"type": "integer", "minimum": 0},
        "timeStamp": {"type": "string", "format": "date-time"},
        "links": {"type": "array", "items": _ref("schemas", "Link")},
    }


# -- /api/v1/nearest (web/nearest_api.py) ----------------------------------------------------------

def _nearest_options() -> dict[str, tuple[Schema, str]]:
    """The options GET /nearest takes as query parameters and POST /nearest in its body (declared in geo.params)."""
    return {p.name: (p.schema(), p.description) for p in NEAREST.without("lon", "lat")}


def _option_parameters(options: dict[str, tuple[Schema, str]]) -> list[Schema]:
    """Options as query parameters (lists comma-separated; an empty value = the default)."""
    out = []
    for name, (schema, text) in options.items():
        extra = {"style": "form", "explode": False} if schema.get("type") == "array" else {}
        out.append(_query(name, schema, text + " Empty = the default.", allowEmptyValue=True, **extra))
    return out


def _option_properties(options: dict[str, tuple[Schema, str]]) -> dict[str, Schema]:
    """Options as members of a JSON body (null = the default)."""
    return {name: {**schema, "nullable": True, "description": text + " null = the default."}
            for name, (schema, text) in options.items()}


def _nearest_get_parameters() -> list[Schema]:
    return [NEAREST["lon"].openapi(), NEAREST["lat"].openapi(), *_option_parameters(_nearest_options())]


def _travel_model() -> Schema:
    """What every nearest and planner answer states about its travel model (``geo.travel.TravelContext.describe``)."""
    num, text = {"type": "number"}, {"type": "string"}
    nullable = {"type": "string", "nullable": True}
    return {
        "type": "object", "required": ["model", "rule"],
        "description": "The travel model the distances and minutes were measured by (the travel parameter): "
                       "straight (straight line × detour_factor), land (shortest path over land, never across the "
                       "sea) or network (along the imported OpenStreetMap roads; distance_m along the route).",
        "properties": {
            "model": {"type": "string", "enum": ["straight", "land", "network"]},
            "mode": {"type": "string", "nullable": True, "description": "walk or ebike: the mode measured"},
            "speed_kmh": {**num, "nullable": True}, "walk_kmh": {**num, "description": "walking speed (snap legs)"},
            "detour_factor": {**num, "description": "straight and land: route = path × this (not for network)"},
            "snap_cap_m": {**num, "description": "network: the longest snap leg to the road, metres"},
            "land_cell_m": {**num, "description": "land: the land raster's cell size, metres"},
            "max_overestimate_pct": {**num, "description": "land: how much longer than the straight line a raster "
                                                          "path in open land may be, %"},
            "osm": {"type": "object", "nullable": True, "description": "network: the imported extract",
                    "properties": {"file": text, "osm_timestamp": nullable, "attribution": text,
                                   "licence_url": text, "sha256": text, "imported_at": nullable}},
            "rule": {**text, "description": "the model in one sentence"},
        }}


def _nearest_body() -> Schema:
    region = active_region()  # the region served (Qingdao: CITY_BOUNDS)
    props: dict[str, Schema] = {
        "points": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH,
                   "description": f"[lon, lat] pairs inside {region.name_en} ({region.bounds_text}); at most "
                                  f"{MAX_ROUTED_BATCH} with travel land or network",
                   "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}}},
        **_option_properties({k: v for k, v in _nearest_options().items() if k not in BATCH_IGNORES}),
    }
    return {"type": "object", "required": ["points"], "additionalProperties": False, "properties": props,
            "example": {"points": [[120.3843, 36.062], [120.3525, 36.088]], "k": 3, "kind": ["station"]}}


# -- /api/v1/coverage, /gaps, /plan, /whatif, /report.zip (web/coverage_api.py) -------------------------

_PCT: Schema = {"type": "number", "nullable": True, "minimum": 0, "maximum": 100,
                "description": "percent (0.01); null when the total is 0"}
_THRESHOLD_RULE = ("The threshold is minutes (by mode, default 15 min walk) or threshold_m, not both (400): "
                   "a cell is covered when the straight-line distance from its centre to the nearest eligible "
                   "facility is at most the threshold (exactly on it counts).")


def _district_schema(districts: tuple[str, ...]) -> Schema:
    """The planner's ``district``: the app's districts (adcodes and Chinese names) or the city; where the planner
    answers per ``city`` (a province, the nation: ``geo.city_planner``) a county of that city."""
    if needs_city(active_region()):
        return {"type": "string", "maxLength": 100, "description": "a county of the city (adcode or name)"}
    return _enum(dict.fromkeys((*whole_region(), *districts)))  # the region served (Qingdao: 370200, 青岛市)


def _planner_options(districts: tuple[str, ...], params: Params) -> dict[str, tuple[Schema, str]]:
    """Declared planner parameters (a set of ``geo.planner_params``) as (schema, description)."""
    return {p.name: (_district_schema(districts) if p.name == "district" else p.schema(), p.description)
            for p in params}


def _planner_parameters(districts: tuple[str, ...], params: Params, *, example_id: str | None = None) -> list[Schema]:
    """A planner GET's query parameters, from its declarations (``geo.planner_params``)."""
    options = _planner_options(districts, params)
    if example_id:  # an id of the registry for the what-if's remove and close
        for name in ("remove", "close"):
            if name in options:
                schema, text = options[name]
                options[name] = ({**schema, "example": [example_id]}, text)
    return _option_parameters(options)


def _planner_body(districts: tuple[str, ...], params: Params, **extra: Any) -> Schema:
    """A planner POST's JSON body, from its declarations (``Params.json_properties``): null = the default."""
    props = {}
    for name, prop in params.json_properties().items():
        if name == "district":
            prop = {**_district_schema(districts), "description": prop["description"]}
        props[name] = {**prop, "nullable": True, "description": prop["description"] + " null = the default."}
    return {"type": "object", "additionalProperties": False, "properties": props, **extra}


def _object(required: list[str] | tuple[str, ...], **props: Schema) -> Schema:
    return {"type": "object", "required": list(required), "properties": props}


def _planner_result(*required: str, **props: Schema) -> Schema:
    """A planner response: the assumptions, the demand source and the sample flag, then ``props``."""
    return _object(["assumptions", "demand_source", "sample", *required],
                   assumptions=_ref("schemas", "CoverageAssumptions"),
                   demand_source={"type": "string", "description": "modelled or imported demand grid"},
                   sample={"type": "boolean", "description": "the registry is the generated sample"}, **props)


def _planner_schemas(districts: tuple[str, ...]) -> dict[str, Schema]:
    num, text, integer = {"type": "number"}, {"type": "string"}, {"type": "integer", "minimum": 0}
    nullable_num = {"type": "number", "nullable": True}
    strings = {"type": "array", "items": text}
    row_props: dict[str, Schema] = {
        "adcode": text, "name": text, "cells": integer, "area_km2": num, "residents": num, "workers": num,
        "area_covered_pct": _PCT, "residents_covered_pct": _PCT, "workers_covered_pct": _PCT,
        "covered_residents": num, "covered_workers": num, "uncovered_residents": num, "uncovered_workers": num,
    }
    row = _object(list(row_props), **row_props)
    row["description"] = "Coverage of a district (or of the city, adcode 370200): cells, demand, % covered."
    hour = _object(["hour", "at", "open_facilities", *row_props],
                   hour={"type": "string", "pattern": r"^\d\d:00$", "example": "14:00"},
                   at={"type": "string", "description": "the full hour, ISO 8601 with +08:00"},
                   open_facilities={**integer, "description": "eligible facilities open at that hour"},
                   **row_props)
    what_props: dict[str, Schema] = {"adcode": text, "name": text, "cells": integer, "residents": num,
                                     "workers": num}
    for key in WhatIf.COMPARED:
        value = _PCT if key.endswith("_pct") else num
        what_props.update({f"today_{key}": value, f"scenario_{key}": value,
                           f"delta_{key}": {"type": "number", "nullable": True}})
    assumptions = {
        "type": "object", "required": ["mode", "minutes", "threshold_m", "speed_kmh", "detour_factor",
                                       "walk_kmh", "ebike_kmh", "radius_rule", "distance", "edge_rule",
                                       "travel", "cell_m", "demand_source", "filter", "district"],
        "description": "Everything the figures depend on; POST /plan adds the plan's settings, /gaps ranked_by.",
        "properties": {
            "mode": {"type": "string", "enum": [*MODES, None], "nullable": True,
                     "description": "null when threshold_m was given"},
            "minutes": nullable_num, "threshold_m": num, "speed_kmh": nullable_num,
            "detour_factor": num, "walk_kmh": num, "ebike_kmh": num,
            "radius_rule": text, "distance": text, "edge_rule": text, "cell_m": integer,
            "travel": _ref("schemas", "TravelModel"), "demand_source": text,
            "eligible_facilities": {**integer, "description": "facilities counted (not in /coverage/hours)"},
            "filter": _object(
                ["kind", "amenity", "worker", "open_at", "include_closed", "open_24h", "include_unknown_hours"],
                kind={"oneOf": [{"type": "array", "items": _enum(KINDS)}, _enum(("any",))]},
                amenity={"type": "array", "items": _enum(AMENITIES)},
                worker={"type": "string", "enum": [*WORKER_TYPES, None], "nullable": True},
                open_at={"type": "string", "description": "any, a date-time with +08:00, or (hours) each full "
                                                          "hour of the date"},
                include_closed={"type": "boolean"}, open_24h={"type": "boolean"},
                include_unknown_hours={"type": "boolean"}),
            "district": {"type": "string", "nullable": True, "description": "adcode, null = the city"},
            "city": {"type": "string", "description": "adcode of the prefecture-level city (or the region served) "
                                                      "the figures are for (parameter city)"},
            "ranked_by": {"type": "string", "description": "/gaps: uncovered workers or uncovered residents"},
            "hot_spots": _object(
                ["demand", "min_density_km2", "min_per_cell", "max_area_km2", "grouping", "place"],
                demand=_enum(DEMANDS), min_density_km2={**num, "description": "the density floor, per km²"},
                min_per_cell={**num, "description": "the floor as demand per cell"},
                max_area_km2={**num, "description": "no area is larger"}, grouping=text, place=text),
            "add": {"type": "integer"}, "demand": _enum(DEMANDS), "min_spacing_m": num, "method": _enum(METHODS),
            "candidates": text, "candidate_count": integer, "excluded_area": {"type": "boolean"},
            "improvement": {"type": "string", "nullable": True},
        },
    }
    site = _object(["rank", "lon", "lat", "adcode", "district", "marginal_gain", "cumulative_covered",
                    "cumulative_pct", "x_m", "y_m"],
                   rank={"type": "integer", "minimum": 1}, lon=num, lat=num, adcode=text, district=text,
                   marginal_gain={**num, "description": "demand newly covered by this site"},
                   cumulative_covered=num, cumulative_pct={**_PCT, "description": "percent (0.001)"},
                   x_m={**num, "description": "EPSG:4549 easting"}, y_m={**num, "description": "EPSG:4549 northing"})
    exact = _object(["gain", "objective", "status", "optimal", "solver", "bound", "gap_pct", "plan_from",
                     "aggregation", "aggregation_error"],
                    gain={**num, "description": "demand the plan newly covers"}, objective=num,
                    status={**text, "description": "optimal, time_limit, or the solver's message"},
                    optimal={"type": "boolean"}, solver=text,
                    bound={**nullable_num, "description": "proven upper bound on the demand newly covered"},
                    gap_pct={**nullable_num, "description": "(bound − gain) ÷ bound, %"},
                    plan_from={"type": "string", "enum": ["solver", "greedy"],
                               "description": "greedy: the solver stopped at the time limit with less"},
                    demand_cells={**integer, "description": "cells with uncovered demand within reach"},
                    demand_groups={**integer, "description": "cells reached by the same candidates merged"},
                    candidates={**integer, "description": "candidates in the model (after dropping dominated ones)"},
                    dominated_candidates=integer, spacing_pairs=integer,
                    nonzeros={**integer, "description": "non-zeros of the sparse constraint matrix"},
                    aggregation=text, aggregation_error={**num, "description": "demand the merging misstates: 0"},
                    build_s=num, solve_s=num, greedy_gain=num, greedy_ratio=nullable_num)
    exact.update(nullable=True, description="method=exact only: the solve (a MILP built as sparse matrices, HiGHS), "
                                            "and greedy's result on the same instance")
    gap_props = _object(["rank", "district", "adcode", "place", "place_distance_m", "cells", "area_km2",
                         "uncovered_workers", "uncovered_residents", "lon", "lat", "centroid_lon", "centroid_lat",
                         "centroid_gcj02_lon", "centroid_gcj02_lat"],
                        rank={"type": "integer", "minimum": 1}, district=text, adcode=text,
                        place={**text, "nullable": True, "description": "the nearest township or town in the "
                               "area's district (null: the district has none known)"},
                        place_distance_m={**nullable_num, "description": "metres from the centroid to the place"},
                        cells=integer, area_km2={**num, "description": "measured in EPSG:4549; at most max_area_km2"},
                        uncovered_workers=num, uncovered_residents=num,
                        lon={**num, "description": "a point inside the area"}, lat=num,
                        centroid_lon={**num, "description": "centroid, WGS84"}, centroid_lat=num,
                        centroid_gcj02_lon={**num, "description": "centroid, GCJ-02 (AMap, Tencent)"},
                        centroid_gcj02_lat=num)
    below_row = _object(["adcode", "district", "cells", "area_km2", "uncovered_workers", "uncovered_residents"],
                        adcode=text, district=text, cells=integer, area_km2=num, uncovered_workers=num,
                        uncovered_residents=num)
    gap_feature = _object(["type", "id", "properties", "geometry"], type=_enum(("Feature",)),
                          id={"type": "integer", "description": "the rank"}, properties=gap_props,
                          geometry=_ref("schemas", "PolygonalGeometry"))
    gaps_summary = _object(
        ["demand", "areas", "listed", "uncovered", "in_areas", "in_listed", "in_areas_pct", "in_listed_pct"],
        demand=_enum(DEMANDS), areas={**integer, "description": "areas above the floor, listed or not"},
        listed=integer, uncovered={**num, "description": "uncovered demand in scope"},
        in_areas={**num, "description": "of it, in all the areas"}, in_listed={**num, "description": "in the listed"},
        in_areas_pct=nullable_num, in_listed_pct=nullable_num)
    gaps_summary["description"] = "How much of the uncovered demand (of the ranked demand) the areas hold."
    return {
        "CoverageRow": row,
        "CoverageAssumptions": assumptions,
        "CoverageResult": _planner_result(
            "city", "districts", "grid", city=_ref("schemas", "CoverageRow"),
            districts={"type": "array", "items": _ref("schemas", "CoverageRow"),
                       "description": "every district (or only the one asked for), by adcode"},
            grid=_object(
                ["png", "bounds", "cell_m", "legend"],
                png={"type": "string", "description": "URL of /api/v1/coverage/grid.png with the same query"},
                bounds={"type": "array", "minItems": 2, "maxItems": 2, "description": "[[south, west], [north, "
                        "east]] for L.imageOverlay", "items": {"type": "array", "minItems": 2, "maxItems": 2,
                                                               "items": num}},
                cell_m={**integer, "description": "demand grid cell size, metres"},
                legend={"type": "array", "items": _object(
                    ["class", "key", "label", "color", "opacity", "from_m", "to_m"],
                    **{"class": {"type": "integer", "minimum": 1, "maximum": len(CLASSES) - 1}},
                    key=_enum(k for k, _, _ in CLASSES[1:]), label=text,
                    color={"type": "string", "pattern": "^#[0-9a-f]{6}$"}, opacity=num, from_m=num,
                    to_m={**nullable_num, "description": "null: no upper bound"})})),
        "CoverageHours": _planner_result(
            "date", "scope", "hours", date={"type": "string", "format": "date"},
            scope={"type": "string", "nullable": True, "description": "the city or the district"},
            hours={"type": "array", "minItems": 24, "maxItems": 24, "items": hour}),
        "CoverageFacilities": _planner_result(
            "count", "facilities", count=integer,
            facilities={"type": "array", "items": _object(
                ["id", "name", "kind", "district", "added", "lon", "lat", "cells_nearest", "cells_served",
                 "residents_served", "workers_served"],
                id=text, name=text, kind=_enum(KINDS), district=text, added={"type": "boolean"}, lon=num, lat=num,
                cells_nearest={**integer, "description": "cells for which it is the nearest eligible facility"},
                cells_served={**integer, "description": "of those, the cells within the threshold"},
                residents_served=num, workers_served=num)}),
        "Gaps": {**_collection_of(gap_feature,
                                  demand_source=text, assumptions=_ref("schemas", "CoverageAssumptions"),
                                  summary=gaps_summary,
                                  below_floor={"type": "array", "items": below_row, "description": "per district: "
                                               "the uncovered cells below the density floor (not drawn)"}),
                 "description": "RFC 7946 FeatureCollection (WGS84) of uncovered hot spots — dense uncovered cells "
                                "grouped, no area over max_area_km2 — largest uncovered demand first; assumptions, "
                                "demand_source, summary and below_floor as foreign members."},
        "PlanRequest": _planner_body(
            districts, planner_params.PLAN,
            example={"add": 5, "mode": "walk", "minutes": 15, "district": "370202", "min_spacing_m": 500}),
        "PlanResult": _planner_result(
            "sites", "curve", "total_demand", "covered_before", "added_gain", "notes", "exact",
            sites={"type": "array", "maxItems": MAX_ADD, "items": site,
                   "description": "new sites by rank (marginal gain, greedy order)"},
            curve={"type": "array", "description": "covered demand after 0, 1, 2 … new sites",
                   "items": _object(["sites", "gain", "covered", "pct"], sites=integer, gain=num, covered=num,
                                    pct={**_PCT, "description": "percent (0.001)"})},
            total_demand=num, covered_before=num, added_gain=num, notes=strings, exact=exact),
        "WhatIfRequest": _planner_body(
            districts, planner_params.WHATIF, description="At least one of add, remove, close (null or empty = none).",
            anyOf=[{"required": ["add"]}, {"required": ["remove"]}, {"required": ["close"]}],
            example={"add": [[120.38, 36.07], [120.41, 36.1]], "minutes": 15}),
        "ReportRequest": _planner_body(
            districts, planner_params.REPORT, description="The body of POST /api/v1/plan, with the report's limit "
            "and date.", example={"add": 5, "minutes": 15, "district": "370202", "min_spacing_m": 500, "limit": 20}),
        "WhatIfResult": _planner_result(
            "scenario", "rows",
            scenario=_object(["added", "removed", "closed", "notes", "eligible_today", "eligible_scenario"],
                             added={"type": "array", "items": _object(["id", "name", "lon", "lat"], id=text,
                                                                      name=text, lon=num, lat=num)},
                             removed=strings, closed=strings, notes=strings, eligible_today=integer,
                             eligible_scenario=integer),
            rows={"type": "array", "description": "the city first, then the districts: today's and the "
                                                  "scenario's figures with their deltas",
                  "items": _object(list(what_props), **what_props)},
            newly_uncovered={**_collection_of(gap_feature), "description": "areas covered today and not in the "
                             "scenario (RFC 7946, WGS84), the most uncovered workers first, at most 50; "
                             "properties as in /gaps"}),
    }


# -- paths -----------------------------------------------------------------------------------------

def _op(op_id: str, tag: str, summary: str, responses: dict[str, Schema], *, parameters=(), description="",
        **extra) -> Schema:
    op: Schema = {"operationId": op_id, "tags": [tag], "summary": summary, "responses": responses}
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = list(parameters)
    op.update(extra)
    return op


def _errors(*codes: int) -> dict[str, Schema]:
    names = {400: "BadRequest", 404: "NotFound", 422: "PlanNotPossible"}
    return {str(c): _ref("responses", names[c]) for c in codes}


def _pref(name: str) -> Schema:
    return _ref("parameters", name)


def _camel(text: str) -> str:
    return "".join(part.capitalize() for part in text.replace("-", "_").split("_"))


def _ogc_paths(example_ids: dict[str, str | None]) -> dict[str, Schema]:
    tag = "OGC API – Features"
    paths: dict[str, Schema] = {
        "/ogc": {"get": _op("getLandingPage", tag, "Landing page", {
            "200": _json(_ref("schemas", "LandingPage"), "Links to the API definition, conformance and data.",
                         html=True), **_errors(400)}, parameters=[_pref("f")])},
        "/ogc/conformance": {"get": _op("getConformance", tag, "Conformance classes", {
            "200": _json(_ref("schemas", "ConfClasses"), "The conformance classes implemented.", html=True),
            **_errors(400)}, parameters=[_pref("f")])},
        "/ogc/collections": {"get": _op("getCollections", tag, "The collections", {
            "200": _json(_ref("schemas", "Collections"), "Every collection with extent and links.",
                         html=True),
            **_errors(400)}, parameters=[_pref("f")])},
    }
    for cid, coll in ogc.collections().items():
        name = _camel(cid)
        schema = coll.source.schema_prefix
        base = f"/ogc/collections/{cid}"
        paths[base] = {"get": _op(f"describe{name}Collection", tag, f"Describe the {cid} collection", {
            "200": _json(_ref("schemas", "Collection"), coll.title, html=True), **_errors(400)},
            parameters=[_pref("f")])}
        filters = [_pref(p) for p in coll.source.filters]
        paths[f"{base}/items"] = {"get": _op(
            f"get{name}Items", tag, f"Items of {cid}: {coll.title}", {
                "200": _json(_ref("schemas", f"{schema}Items"), "A page of features with numberMatched, "
                             "numberReturned, timeStamp and self/next/prev/alternate links.", GEOJSON,
                             html=True),
                **_errors(400)},
            description=coll.description + " Unknown query parameters are refused (400).",
            parameters=[*filters, _pref("limit"), _pref("offset"), _pref("f")])}
        paths[f"{base}/items/{{featureId}}"] = {"get": _op(
            f"get{name}Item", tag, f"One feature of {cid}", {
                "200": _json(_ref("schemas", f"{schema}Feature"), "The feature.", GEOJSON, html=True),
                **_errors(400, 404)},
            parameters=[_feature_id(example_ids.get(cid)), _pref("f")])}
    return paths


def _allow_empty(doc: Schema, what: str = "the default") -> Schema:
    """A query parameter whose empty value is its default (``kind=``), as the view reads it."""
    return {**doc, "allowEmptyValue": True, "description": f"{doc['description']} Empty = {what}."}


def _listed(schemas: list[Schema]) -> Schema:
    """One array schema for what several readings of a parameter accept (a list, or one value)."""
    enums = [s.get("items", s).get("enum") for s in schemas]
    if all(e is not None for e in enums):
        return {"type": "array", "items": _enum(dict.fromkeys(v for e in enums for v in e))}
    return {"type": "array", "items": {"type": "string"}}


def _export_parameters(district_values: tuple[str, ...]) -> list[Schema]:
    """Every parameter of /api/v1/export: what its layers take (``geo.registry_params.EXPORT``), each saying
    which layers take it. A name two layers read differently (kind and district of facilities and of
    uncovered, whose /api/v1/gaps parameters take one district) is documented once with each reading. Only
    layer=uncovered reads an empty value as the default (the planner's parameters do)."""
    readings: dict[str, dict[str, tuple[list[str], Schema]]] = {}
    for layer, declared in EXPORT.items():
        for doc in declared.openapi({"district": district_values}):
            layers, _ = readings.setdefault(doc["name"], {}).setdefault(doc["description"], ([], doc))
            layers.append(layer)
    out = []
    for name, by_text in readings.items():
        taking = [layer for layers, _ in by_text.values() for layer in layers]
        if len(by_text) == 1:
            ((layers, doc),) = by_text.values()
            only = "" if len(layers) == len(EXPORT) else f"layer={'|'.join(layers)} only. "
            doc = {**doc, "description": only + doc["description"]}
        else:
            doc = {"name": name, "in": "query", "required": False, "style": "form", "explode": False,
                   "description": " ".join(f"layer={'|'.join(layers)}: {doc['description']}"
                                           for layers, doc in by_text.values()),
                   "schema": _listed([doc["schema"] for _, doc in by_text.values()])}
        if "uncovered" in taking and name != "layer":  # an empty layer is facilities, which refuses it
            doc = _allow_empty(doc) if taking == ["uncovered"] else {
                **doc, "allowEmptyValue": True,
                "description": doc["description"] + " Empty = the default with layer=uncovered (400 with the others)."}
        out.append(doc)
    return out


def _search_result() -> Schema:
    """The answer of GET /api/v1/search (geo.search)."""
    text, nullable_text = {"type": "string"}, {"type": "string", "nullable": True}
    result = _object(
        ["type", "name", "name_en", "district", "lon", "lat", "id", "score"], type=_enum(SEARCH_TYPES),
        name={**text, "description": "Chinese name (a GeoNames place without one: its romanised name)"},
        name_en=nullable_text, district={**nullable_text, "description": "the Chinese name of its district"},
        lon={"type": "number", "description": "WGS84"}, lat={"type": "number", "description": "WGS84"},
        id={**nullable_text, "description": "the facility id (facilities only)"},
        score={"type": "number", "minimum": 0, "maximum": 1, "description": "1 = the query is its name"})
    return _object(["query", "count", "results"], query={**text, "description": "q as read (trimmed)"},
                   count={"type": "integer", "minimum": 0},
                   results={"type": "array", "items": result, "description": "best first"})


def _api_paths(district_values: tuple[str, ...]) -> dict[str, Schema]:
    tag, export_tag, nearest_tag = "Facilities API", "Export", "Nearest"
    disposition = {"Content-Disposition": {"description": "attachment; filename=\"qingdao-<layer>.<suffix>\"",
                                           "schema": {"type": "string"}}}
    export_content = {media.split(";")[0]: {"schema": _ref("schemas", "ExportGeoJSON") if fmt == "geojson"
                                            else {"type": "string", "format": "binary"}}
                      for fmt, (media, _) in DOWNLOAD_FORMATS.items()}
    return {
        "/api/v1/facilities": {"get": _op("listFacilities", tag, "Live facilities as one GeoJSON document", {
            "200": _json(_ref("schemas", "FacilitiesGeoJSON"),
                         "RFC 7946 FeatureCollection (removed excluded).", GEOJSON), **_errors(400)},
            parameters=[_allow_empty(p, "all") for p in FACILITIES.openapi({"district": district_values})])},
        "/api/v1/districts": {"get": _op("listDistricts", tag, "The district polygons", {
            "200": _json(_ref("schemas", "DistrictsGeoJSON"), "GeoJSON FeatureCollection.", GEOJSON),
            **_errors(400)})},
        "/api/v1/meta": {"get": _op("getMeta", tag, "Vocabularies, counts, sample flag, travel assumptions", {
            "200": _json(_ref("schemas", "Meta"), "Vocabularies with zh/en labels and counts."),
            **_errors(400)})},
        "/api/v1/export": {"get": _op(
            "export", export_tag, "Download a layer as GeoJSON, CSV, GeoPackage or KML", {
                "200": {"description": "The file, as an attachment.", "headers": disposition,
                        "content": export_content},
                **_errors(400)},
            description="layer=facilities takes the filters of /ogc/collections/{id}/items (without paging; "
                        "with near, items come nearest first with a distance_m column), layer=districts only bbox "
                        "and district, layer=uncovered the parameters of /api/v1/gaps; each parameter says which "
                        "layers take it, and a layer refuses the others (400). Known parameters without a value "
                        "are refused (400) but for layer=uncovered, where they mean the default.",
            parameters=_export_parameters(district_values))},
        "/api/v1/nearest": {
            "get": _op("nearest", nearest_tag, "The k nearest eligible facilities to one point", {
                "200": _json(_ref("schemas", "NearestResult"),
                             "Hits nearest first: geodesic distance, bearing, walk/e-bike minutes, "
                             "open now."),
                **_errors(400)}, parameters=_nearest_get_parameters()),
            "post": _op("nearestBatch", nearest_tag, f"Nearest facilities for up to {MAX_BATCH} points", {
                "200": _json(_ref("schemas", "NearestBatchResult"), "Per point: ids and distances."),
                **_errors(400)},
                requestBody={"required": True, "content": {"application/json": {
                    "schema": _ref("schemas", "NearestBatchRequest")}}}),
        },
        "/api/v1/search": {"get": _op(
            "search", tag, "Find districts, townships, places and facilities by name", {
                "200": _json(_search_result(), "Results best first, each with its WGS84 position."),
                **_errors(400)},
            description="Chinese, pinyin (with or without tones or spaces: 市南, Shinan, shìnán, shi nan) or English "
                        "names; facility names and addresses; small typos (Shinna) and characters of the same sound "
                        "(李仓) are forgiven. A township is at its GeoNames town seat, else at the mean position of "
                        "the registry's facilities in it (left out if none); a district at its GeoNames seat, else "
                        "inside its largest part. Unknown parameters are refused (400).",
            parameters=SEARCH.openapi())},
        "/api/openapi.json": {"get": _op("getOpenAPI", "API description", "This document", {
            "200": _json({"type": "object"}, "OpenAPI 3.0 document.", OPENAPI_MEDIA_TYPE)})},
        "/api/docs": {"get": _op("getDocs", "API description", "This document, rendered (Swagger UI)", {
            "200": {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}})},
    }


def _coverage_paths(districts: tuple[str, ...], example_id: str | None) -> dict[str, Schema]:
    tag = "Coverage & planning"
    common = f"{_THRESHOLD_RULE} Unknown parameters are refused (400)."
    pp = planner_params
    zip_headers = {"Content-Disposition": {
        "required": True, "description": "attachment; filename=\"workermap-report-YYYYMMDD.zip\" (Qingdao date)",
        "schema": {"type": "string", "pattern": r'^attachment; filename="workermap-report-\d{8}\.zip"$'}}}
    png_headers = {
        "X-Overlay-Bounds": {"required": True, "description": "south,west,north,east (WGS84) of the image",
                             "schema": {"type": "string", "pattern": r"^[-\d.e]+(,[-\d.e]+){3}$"}},
        "Cache-Control": {"schema": {"type": "string"}, "description": "public, max-age=60"},
    }
    whatif_result = _json(_ref("schemas", "WhatIfResult"), "Today's and the scenario's coverage, side by side.")
    report_responses = {
        "200": {"description": "workermap-report/: index.html (map), report.css, report.js, districts.csv, hours.csv, "
                               "gaps.csv, gaps.geojson, sites.csv, sites.geojson, curve.csv, facilities.csv, "
                               "assumptions.csv/.json, coverage.png and the Leaflet files.",
                "headers": zip_headers,
                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
        **_errors(400, 422)}
    report_text = ("The same builder as `workermap report`; its plan is POST /api/v1/plan's for the same parameters "
                   "(add=0: no plan; a 422 when the plan cannot be made, e.g. min_spacing_m leaves no candidate).")
    return {
        "/api/v1/coverage": {"get": _op(
            "getCoverage", tag, "Coverage by district and for the city", {
                "200": _json(_ref("schemas", "CoverageResult"),
                             "Per district and for the city: cells, residents and workers, % covered and "
                             "uncovered demand; the grid overlay's URL, bounds and legend; the assumptions."),
                **_errors(400)},
            description=common, parameters=_planner_parameters(districts, pp.COVERAGE))},
        "/api/v1/coverage/grid.png": {"get": _op(
            "getCoverageGrid", tag, "The coverage grid as a PNG map overlay", {
                "200": {"description": "Cells coloured by distance class (see legend in /api/v1/coverage), "
                                       "transparent off land; for L.imageOverlay(png, bounds).",
                        "headers": png_headers,
                        "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
                **_errors(400)},
            description=common, parameters=_planner_parameters(districts, pp.COVERAGE))},
        "/api/v1/coverage/hours": {"get": _op(
            "getCoverageHours", tag, "Coverage at each of the 24 hours of a date", {
                "200": _json(_ref("schemas", "CoverageHours"),
                             "One row per full hour: facilities open then and the coverage of the city (or "
                             "district)."),
                **_errors(400)},
            description=common + " open_at only picks the default date: each hour counts the facilities open "
                                 "then.", parameters=_planner_parameters(districts, pp.HOURS))},
        "/api/v1/coverage/facilities": {"get": _op(
            "getCoverageFacilities", tag, "Demand served by each eligible facility", {
                "200": _json(_ref("schemas", "CoverageFacilities"),
                             "Per facility (of the district, if given): cells it is nearest to and the demand "
                             "among them within the threshold."),
                **_errors(400)},
            description=common, parameters=_planner_parameters(districts, pp.COVERAGE))},
        "/api/v1/gaps": {"get": _op(
            "getGaps", tag, "Uncovered hot spots as polygons, largest uncovered demand first", {
                "200": _json(_ref("schemas", "Gaps"), "Dense uncovered cells grouped (one district each, none over "
                             "max_area_km2), ranked; the demand below the floor per district.",
                             GEOJSON),
                **_errors(400)},
            description=common, parameters=_planner_parameters(districts, pp.GAPS))},
        "/api/v1/plan": {"post": _op(
            "planSites", tag, "Where to add new sites to cover the most uncovered demand", {
                "200": _json(_ref("schemas", "PlanResult"),
                             "New sites ranked by marginal gain, the cumulative coverage curve, notes."),
                **_errors(400, 422)},
            description=f"{_THRESHOLD_RULE} Existing facilities are kept; a site is a land cell of the demand "
                        "grid (or one of candidates) outside exclude and at least min_spacing_m from every "
                        "other site. A body that is not a JSON object, an unknown member or a bad value is a "
                        "400; a plan that cannot be made as asked is a 422 saying why.",
            requestBody={"required": True, "content": {"application/json": {
                "schema": _ref("schemas", "PlanRequest")}}})},
        "/api/v1/whatif": {
            "get": _op("whatIf", tag, "Coverage with sites added, removed or closed", {
                "200": whatif_result, **_errors(400)},
                description=f"{common} Give at least one of add, remove and close (else 400 "
                            "missing_parameter). A removed or closed facility that is not counted anyway (another "
                            "kind, say) changes nothing and is noted.",
                parameters=_planner_parameters(districts, pp.WHATIF_QUERY, example_id=example_id)),
            "post": _op("whatIfBody", tag, "Coverage with sites added, removed or closed (JSON body)", {
                "200": whatif_result, **_errors(400)},
                description="As GET, with the options in a JSON object; add as [[lon, lat], …] and remove/close "
                            "as lists of ids.", requestBody={"required": True, "content": {"application/json": {
                    "schema": _ref("schemas", "WhatIfRequest")}}}),
        },
        "/api/v1/report.zip": {
            "get": _op("getReport", tag, "The planner report (map, tables, CSVs) as a zip", report_responses,
                       description=f"{common} {report_text} GET takes every parameter of POST /api/v1/plan but "
                                   "exclude and candidates (POST them).",
                       parameters=_planner_parameters(districts, pp.REPORT_QUERY)),
            "post": _op("postReport", tag, "The planner report (map, tables, CSVs) as a zip (JSON body)",
                        report_responses, description=f"As GET, with the parameters in a JSON object: the body of "
                                                       f"POST /api/v1/plan (exclude and candidates too) with limit "
                                                       f"and date. {report_text}",
                        requestBody={"required": True, "content": {"application/json": {
                            "schema": _ref("schemas", "ReportRequest")}}}),
        },
    }


def _admin_schemas() -> dict[str, Schema]:
    """The answers of the admin API (web/admin.py) and of /healthz."""
    text, count = {"type": "string"}, {"type": "integer", "minimum": 0}
    record = {f: {**_FACILITY_TYPES.get(f, text), "nullable": True} for f in FIELDS}
    version = {"type": "integer", "minimum": 1}
    return {
        "FacilityRecord": {**_object(list(FIELDS), **record, hours_known={"type": "boolean", "description": "false: "
                                                                           "opening_hours is unknown (derived)"}),
                           "description": "Every field of the stored record."},
        "StoredFacility": _object(["facility"], facility=_ref("schemas", "FacilityRecord")),
        "RemovedFacility": _object(["id", "status"], id=text, status=_enum(("removed",))),
        "ImportResult": _object(
            ["file", "rows", "added", "updated", "written", "warnings"], file=text, rows=count, added=count,
            updated=count, written={"type": "boolean", "description": "false for dry_run (or nothing to write)"},
            warnings={"type": "array", "items": _object(["row", "field", "message"], row={**count, "nullable": True},
                                                        field=text, message=text)}),
        "Versions": _object(["versions"], versions={"type": "array", "description": "oldest first", "items": _object(
            ["version", "time", "actor", "action", "id", "count"], version=version, time=text, actor=text,
            action=text, id={**text, "nullable": True, "description": "the facility changed, if one"},
            count={**count, "description": "facilities in that version"})}),
        "Restored": _object(["restored", "count", "version"], restored=version, count=count,
                            version={**text, "description": "the new current version"}),
        "AuditLog": _object(["entries"], entries={"type": "array", "description": "oldest first", "items": {
            **_object(["time", "actor", "action", "id", "before", "after"], time=text, actor=text, action=text,
                      id={**text, "nullable": True},
                      before={"type": "object", "nullable": True, "description": "the record before"},
                      after={"type": "object", "nullable": True, "description": "the record after"},
                      version_before={"type": "integer", "nullable": True},
                      version_after={"type": "integer", "nullable": True}),
            "additionalProperties": True, "description": "An entry; an import or a restore adds what it did."}}),
        "Health": _object(["status", "facilities", "registry_version", "sample", "pid"], status=_enum(("ok",)),
                          facilities={**count, "description": "records served (removed ones too)"},
                          registry_version=text, sample={"type": "boolean"}, pid={"type": "integer"}),
    }


def _admin_paths() -> dict[str, Schema]:
    tag = "Admin (token)"
    err = _ref("schemas", "Error")
    auth_errors = {
        "401": _json(err, "No or malformed Authorization header."),
        "403": _json(err, "Token wrong or revoked, or writes disabled (no token configured)."),
    }
    invalid = {"422": _json(err, "Validation failed: error.details lists every problem; nothing was written.")}
    fields = {f: {} for f in FIELDS if f in EDITABLE}  # each checked as an import checks it (a 422 names it)
    facility_body = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "description": "Facility fields as in an import (kind, name, lon, lat, opening_hours, "
        "amenities, access, entry, capacity, status, …); another member is a 400.",
        "properties": {**fields, **FACILITY_BODY.json_properties()}, "additionalProperties": False}}}}
    facility = _json(_ref("schemas", "StoredFacility"), "The stored record.")
    fid = {"name": "facility_id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
    sec = {"security": [{"adminToken": []}]}
    return {
        "/api/v1/admin/facilities": {"post": _op(
            "createFacility", tag, "Add a facility", {"201": facility, **_errors(400), **auth_errors, **invalid,
                                                       "409": _json(err, "The id exists.")},
            requestBody=facility_body, **sec)},
        "/api/v1/admin/facilities/{facility_id}": {
            "patch": _op("updateFacility", tag, "Change fields of a facility", {
                "200": facility, **_errors(400, 404), **auth_errors, **invalid},
                parameters=[fid], requestBody=facility_body, **sec),
            "delete": _op("removeFacility", tag, "Mark a facility removed (kept in history)", {
                "200": _json(_ref("schemas", "RemovedFacility"), "Removed."), **_errors(400, 404), **auth_errors},
                parameters=[fid], **sec),
        },
        "/api/v1/admin/import": {"post": _op(
            "importFacilities", tag, "Bulk import a CSV/XLSX/GeoJSON file", {
                "200": _json(_ref("schemas", "ImportResult"), "Rows read, added, updated, warnings."), **_errors(400),
                **auth_errors, **invalid},
            requestBody={"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"], "additionalProperties": False, "properties": {
                    "file": {"type": "string", "format": "binary"}, **IMPORT_FORM.json_properties()}}}}}, **sec)},
        "/api/v1/admin/versions": {"get": _op("listVersions", tag, "Earlier registry versions", {
            "200": _json(_ref("schemas", "Versions"), "The latest versions, oldest first."), **_errors(400),
            **auth_errors}, parameters=VERSIONS.openapi(), **sec)},
        "/api/v1/admin/restore": {"post": _op("restoreVersion", tag, "Make an earlier version current", {
            "200": _json(_ref("schemas", "Restored"), "Restored, as a new version."), **_errors(400, 404),
            **auth_errors, **invalid},
            requestBody={"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": list(RESTORE.names), "additionalProperties": False,
                "properties": RESTORE.json_properties()}}}},
            **sec)},
        "/api/v1/admin/audit": {"get": _op("readAudit", tag, "The audit log (newest last)", {
            "200": _json(_ref("schemas", "AuditLog"), "Entries: time, actor, action, id, before, after."),
            **_errors(400), **auth_errors}, parameters=AUDIT.openapi(), **sec)},
        "/healthz": {"get": _op("health", "Operations", "Liveness and the registry being served", {
            "200": _json(_ref("schemas", "Health"), "OK.")})},
    }


def _report_schemas() -> dict[str, Schema]:
    """The answers of the worker-report endpoints (web/reports_api.py)."""
    text, count = {"type": "string"}, {"type": "integer", "minimum": 0}
    nullable_text, nullable_number = {**text, "nullable": True}, {"type": "number", "nullable": True}
    report = {"id": {"type": "integer", "minimum": 1}, "kind": _enum(REPORT_KINDS),
              "facility_id": {**nullable_text, "description": "null for new_site"},
              "lon": {**nullable_number, "description": "WGS84; null when not given"}, "lat": nullable_number,
              "text": {**text, "description": "as the worker wrote it: show it as text, never as HTML"},
              "created_at": {**text, "format": "date-time"}, "status": _enum(REPORT_STATUSES)}
    queued = {**report, "facility_name": nullable_text, "resolved_at": nullable_text, "resolved_by": nullable_text,
              "note": {**nullable_text, "description": "the resolution note"}}
    layer_props = _object(["kind", "facility_id", "name", "count", "created_at"], kind=_enum(REPORT_KINDS),
                          facility_id=nullable_text, name={**nullable_text, "description": "the facility's name"},
                          count={**count, "description": "open reports in this point"},
                          created_at={**text, "description": "the latest of them"})
    return {
        "Report": {**_object(list(report), **report), "description": "A stored worker report."},
        "ReportSummary": _object(["facility_id", "open_reports", "verified_at"], facility_id=text,
                                 open_reports=count, verified_at={**nullable_text, "description": "YYYY-MM-DD when "
                                                                  "the facility was last verified; null if never"}),
        "ReportsLayer": _collection_of(_feature({"type": "object"}, layer_props), open_reports=count),
        "QueuedReport": {**_object(list(queued), **queued), "description": "A report with its resolution."},
        "ReportQueue": _object(["reports"], reports={"type": "array", "items": _ref("schemas", "QueuedReport"),
                                                     "description": "newest first"}),
        "ResolvedReport": _object(["report"], report=_ref("schemas", "QueuedReport"),
                                  facility=_ref("schemas", "FacilityRecord")),  # the record the edit wrote, if any
    }


def _tile_paths() -> dict[str, Schema]:
    """Facilities by map tile (web/tiles_mvt.py, geo/vector_tiles.py)."""
    from geo.vector_tiles import MAX_ZOOM, POINT_ZOOM, TILE_FILTERS

    axes = (("z", {"maximum": MAX_ZOOM}, "Zoom."), ("x", {}, "Column, 0 to 2^z - 1."),
            ("y", {}, "Row, 0 to 2^z - 1 (XYZ)."))
    zxy = [{"name": n, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0, **extra},
            "description": text} for n, extra, text in axes]
    params = zxy + TILE_FILTERS.openapi()
    what = (f"The live facilities inside a Web Mercator tile (edges included) that pass the filters: from zoom "
            f"{POINT_ZOOM} every facility (layer `facilities`: id, kind, name, name_en, district, status, access, "
            "amenities joined with ';', opening_hours, workday_calendar); below it clusters (layer `clusters`: the "
            "tile cut into an 8 × 8 grid in longitude and latitude, one point per non-empty cell at the mean position, "
            "with `count`). Never the whole registry: the pages load a large registry by viewport with these.")
    feature = {"type": "object", "required": ["type", "properties", "geometry"], "properties": {
        "type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "string", "nullable": True},
        "properties": {"type": "object", "description": "a facility's (amenities as a list) or a cluster's "
                       "(`cluster`: true, `count`)"},
        "geometry": {"type": "object", "description": "a GeoJSON Point (WGS84)"}}}
    tile_json = {"type": "object", "required": ["type", "tile", "layer", "features"], "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "tile": {"type": "string", "example": "12/3418/1607"},
        "layer": {"type": "string", "enum": ["facilities", "clusters"]},
        "features": {"type": "array", "items": feature}}}
    mvt = {"description": "A Mapbox Vector Tile (extent 4096; empty body when nothing is inside).",
           "content": {"application/vnd.mapbox-vector-tile": {"schema": {"type": "string", "format": "binary"}}}}
    return {
        "/tiles/facilities/{z}/{x}/{y}.mvt": {"get": _op(
            "facilityTileMvt", "Facilities API", "Facilities of one map tile (Mapbox Vector Tile)",
            {"200": mvt, **_errors(400)}, parameters=params, description=what)},
        "/tiles/facilities/{z}/{x}/{y}.geojson": {"get": _op(
            "facilityTileGeojson", "Facilities API", "Facilities of one map tile (GeoJSON)",
            {"200": _json(tile_json, "The tile's facilities or clusters.", "application/geo+json"), **_errors(400)},
            parameters=params, description=what)},
    }


def _report_paths() -> dict[str, Schema]:
    tag, admin_tag = "Reports", "Admin (token)"
    err = _ref("schemas", "Error")
    n, window_s = RATE_LIMIT
    body = {"type": "object", "required": ["kind"], "additionalProperties": False,
            "properties": {name: {**schema, "nullable": not REPORT_BODY[name].required} for name, schema in
                           REPORT_BODY.json_properties().items()}}
    auth_errors = {"401": _json(err, "No or malformed Authorization header."),
                   "403": _json(err, "Token wrong or revoked, or writes disabled (no token configured).")}
    resolve_body = {"type": "object", "additionalProperties": False, "properties": {
        name: {**schema, "nullable": True} for name, schema in RESOLVE.json_properties().items()}}
    report_id = {"name": "report_id", "in": "path", "required": True, "description": "The report's id.",
                 "schema": {"type": "integer", "minimum": 1}}
    return {
        "/api/v1/reports": {"post": _op(
            "submitReport", tag, "Report a problem with a facility, or suggest a new site (no login)", {
                "201": _json(_ref("schemas", "Report"), "Stored: it waits in the admins' queue."),
                **_errors(400),
                "413": _json(err, f"The body is larger than {MAX_BODY_BYTES} bytes."),
                "429": {**_json(err, f"More than {n} reports from this client in {window_s // 60} minutes; nothing "
                                     "was stored."),
                        "headers": {"Retry-After": {"required": True, "description": "seconds until one is "
                                                    "accepted again", "schema": {"type": "integer", "minimum": 1}}}}},
            description=f"A JSON object. facility_id is required unless kind is new_site, which needs lon/lat "
                        f"inside a Qingdao district. At most {n} reports per client in {window_s // 60} minutes "
                        "(the client is the connecting address, or X-Forwarded-For from a configured proxy; only a "
                        "salted hash of it is kept). Bad input is a 400 and stores nothing.",
            requestBody={"required": True, "content": {"application/json": {"schema": body}}})},
        "/api/v1/reports/summary": {"get": _op(
            "getReportSummary", tag, "A facility's open reports and last verification (its card)", {
                "200": _json(_ref("schemas", "ReportSummary"), "Counts only, no texts."), **_errors(400, 404)},
            parameters=SUMMARY.openapi())},
        "/api/v1/reports/layer": {"get": _op(
            "getReportsLayer", tag, "Open reports and suggested sites as GeoJSON (the planner's layers)", {
                "200": _json(_ref("schemas", "ReportsLayer"), "One point per facility and kind of open report, and "
                             "per cluster of suggested sites (about 100 m); kinds, counts and times, never texts.",
                             GEOJSON),
                **_errors(400)})},
        "/api/v1/admin/reports": {"get": _op(
            "listReports", admin_tag, "The worker reports queue", {
                "200": _json(_ref("schemas", "ReportQueue"), "Reports of the status, newest first."), **_errors(400),
                **auth_errors}, parameters=QUEUE.openapi(), security=[{"adminToken": []}])},
        "/api/v1/admin/reports/{report_id}/resolve": {"post": _op(
            "resolveReport", admin_tag, "Resolve a report, optionally editing its facility", {
                "200": _json(_ref("schemas", "ResolvedReport"), "Resolved (and the facility written)."),
                **_errors(400, 404), **auth_errors,
                "409": _json(err, "The report is already resolved, or the new facility's id exists."),
                "413": _json(err, f"The body is larger than {MAX_BODY_BYTES} bytes."),
                "422": _json(err, "The edit fails validation: error.details lists every problem; nothing was "
                                  "written.")},
            description="The edit and the resolution are written in one transaction (both or neither), each with "
                        "its audit entry. An empty body resolves without a note or an edit.",
            parameters=[report_id], requestBody={"required": False, "content": {"application/json": {
                "schema": resolve_body}}}, security=[{"adminToken": []}])},
    }


# -- /api/v1/access, /access/grid.png, /usage, /recommendations (web/planner_extra_api.py) ----------------

def _access_schemas(districts: tuple[str, ...]) -> dict[str, Schema]:
    """The answers of capacity-aware access (E2SFCA), usage and recommendations."""
    num, text, integer, flag = {"type": "number"}, {"type": "string"}, {"type": "integer", "minimum": 0}, \
        {"type": "boolean"}
    nnum, ntext, nint = {**num, "nullable": True}, {**text, "nullable": True}, {**integer, "nullable": True}
    strings = {"type": "array", "items": text}
    coverage = _planner_schemas(districts)["CoverageAssumptions"]
    access_props = {
        **coverage["properties"], "method": text, "demand": _enum(DEMANDS), "decay": _enum(planner_params.DECAYS),
        "decay_rule": text, "catchment_m": {**num, "description": "the threshold in route metres"},
        "catchment_rule": text, "access_distance": text, "capacity_rule": text,
        "capacity_imputed": {**integer, "description": "facilities without a capacity (counted as their kind's "
                                                       "median)"},
        "imputed_places": {"type": "object", "additionalProperties": {"type": "integer"},
                           "description": "the places counted for a facility without a capacity, by kind"},
        "places": {**num, "description": "places of the counted facilities"},
        "city_demand_per_place": {**nnum, "description": "demand in reach ÷ places, city-wide"},
        "max_demand_per_place": {**nnum, "description": "the shortage threshold used"},
        "max_demand_per_place_rule": text}
    access_assumptions = {"type": "object", "properties": access_props,
                          "required": [*coverage["required"], "method", "demand", "decay", "catchment_m",
                                       "capacity_rule", "capacity_imputed", "max_demand_per_place"],
                          "description": "What the E2SFCA figures rest on: the coverage assumptions (the catchment "
                                         "is the threshold), the decay, the supply and the shortage threshold."}
    row_props = {"adcode": text, "name": text, "cells": integer, "area_km2": num, "demand": num,
                 "demand_in_reach": num, "demand_no_access": {**num, "description": "beyond every catchment"},
                 "places": {**num, "description": "places of the counted facilities in the district"},
                 "accessible_places": {**num, "description": "Σ demand × access: the places its people share"},
                 "places_per_1000": {**nnum, "description": "accessible places per 1000 people (all demand)"},
                 "demand_per_place": {**nnum, "description": "demand in reach per accessible place"},
                 "shortage_cells": integer, "shortage_demand": num, "shortage_pct": _PCT,
                 "places_needed": {**integer, "description": "places that would bring every short cell to the "
                                                             "threshold"}}
    supplier = {**_object(["id", "name", "kind", "places", "places_imputed", "distance_m", "lon", "lat"],
                          id=text, name=text, kind=_enum(KINDS), places=num, places_imputed=flag,
                          distance_m={**num, "description": "route metres to the area's nearest cell"}, lon=num,
                          lat=num),
                "nullable": True, "description": "the facility whose places the area uses most: where to add places"}
    area = _object(["rank", "district", "adcode", "place", "cells", "area_km2", "demand", "accessible_places",
                    "demand_per_place", "places_needed", "lon", "lat", "facility"],
                   rank={"type": "integer", "minimum": 1}, district=text, adcode=text,
                   place={**ntext, "description": "the nearest township or town in the district"}, cells=integer,
                   area_km2=num, demand=num, accessible_places=num, demand_per_place=nnum, places_needed=integer,
                   lon={**num, "description": "the centre of its cell with the most demand"}, lat=num,
                   facility=supplier)
    facility = _object(["id", "name", "kind", "district", "added", "lon", "lat", "places", "places_imputed",
                        "demand_in_reach", "demand_per_place", "places_per_1000"],
                       id=text, name=text, kind=_enum(KINDS), district=text, added=flag, lon=num, lat=num,
                       places=num, places_imputed=flag,
                       demand_in_reach={**num, "description": "Σ demand × weight in its catchment"},
                       demand_per_place=nnum, places_per_1000={**num, "description": "1000 × its ratio R_j"})
    legend = _object(["class", "key", "label", "color", "opacity", "from_demand_per_place", "to_demand_per_place"],
                     **{"class": {"type": "integer", "minimum": 1}}, key=text, label=text,
                     color={"type": "string", "pattern": "^#[0-9a-f]{6}$"}, opacity=num,
                     from_demand_per_place=nnum, to_demand_per_place=nnum)
    usage_source = _object(["source", "synthetic", "rows", "imports", "first_day", "last_day", "note"],
                           source=_enum(("imported", "shipped sample")),
                           synthetic={**flag, "description": "synthetic rows (the shipped sample, or rows marked "
                                                             "样例 = true) are in use: not observed visits"},
                           rows=integer, imports=integer, first_day=ntext, last_day=ntext, note=text)
    usage_assumptions = _object(
        ["district", "kind", "since", "until", "visit_hours", "night", "utilisation_rule"],
        district=ntext, kind={"oneOf": [{"type": "array", "items": _enum(KINDS)}, _enum(("any",))]}, since=ntext,
        until=ntext, visit_hours=num, night=text, utilisation_rule=text, peak_rule=text, open_hours_rule=text,
        missing_hours_rule=text)
    usage_row = _object(["adcode", "name", "facilities", "visits", "visits_per_day", "utilisation", "night_share",
                         "peak_hour"], adcode=text, name=text, facilities=integer, visits=integer,
                        visits_per_day=num, utilisation=nnum, night_share=nnum, peak_hour=ntext)
    usage_facility = _object(
        ["id", "name", "kind", "district", "adcode", "lon", "lat", "capacity", "opening_hours", "open_24h", "days",
         "hourly_days", "visits", "visits_per_day", "open_hours_per_day", "utilisation", "peak_hour",
         "peak_hour_visits", "peak_utilisation", "busiest_hours", "night_visits_per_day", "night_share", "profile",
         "synthetic"],
        id=text, name=text, kind=_enum(KINDS), district=text, adcode=text, lon=num, lat=num, capacity=nint,
        opening_hours=ntext, open_24h=flag, days=integer, hourly_days=integer, visits=integer, visits_per_day=num,
        open_hours_per_day=nnum,
        utilisation={**nnum, "description": "visits × visit_hours ÷ (capacity × hours open); null without a "
                                            "capacity or opening hours"},
        peak_hour=ntext, peak_hour_visits=nnum, peak_utilisation=nnum, busiest_hours=strings,
        night_visits_per_day=nnum, night_share=nnum,
        profile={"type": "array", "nullable": True, "minItems": 24, "maxItems": 24, "items": num,
                 "description": "mean visits at each hour 00–23 (days with hourly rows); null without them"},
        synthetic=flag)
    where = _object(["id", "name", "kind", "district", "lon", "lat"], id=text, name=text, kind=_enum(KINDS),
                    district=text, lon=num, lat=num)
    target = {"type": "object", "nullable": True, "description": "where to: a facility (merge, the nearest 24-hour "
                                                                 "one) or a shortage area (relocate, add_places)",
              "properties": {"id": text, "name": text, "kind": _enum(KINDS), "district": text, "lon": num,
                             "lat": num, "distance_m": num, "area_rank": {"type": "integer", "minimum": 1},
                             "place": ntext}}
    recommendation = _object(
        ["rank", "action", "facility", "lon", "lat", "target", "priority", "figures", "reason", "reason_zh"],
        rank={"type": "integer", "minimum": 1}, action=_enum(("extend_24h", "merge", "relocate", "add_places")),
        facility={**where, "nullable": True}, lon={**num, "description": "where to draw it"}, lat=num,
        target=target, priority={**num, "description": "within an action, larger first: night visits a day, spare "
                                                       "place-hours a day, places needed"},
        figures={"type": "object", "additionalProperties": True,
                 "description": "the figures behind it (night_share, utilisation, places_needed …)"},
        reason=text, reason_zh=text)
    recommend_assumptions = {
        **access_assumptions, "description": "The access assumptions and the usage rules' thresholds.",
        "properties": {**access_props, "usage": _ref("schemas", "UsageAssumptions"), "night_share": num,
                       "underused": num, "min_night_visits_per_day": num, "min_days": integer,
                       "merge_max_utilisation": num}}
    return {
        "AccessAssumptions": access_assumptions,
        "AccessRow": {**_object(list(row_props), **row_props),
                      "description": "Access of a district (or of the city, adcode 370200)."},
        "AccessResult": _object(
            ["assumptions", "demand_source", "sample", "city", "districts", "shortage", "facilities", "grid"],
            assumptions=_ref("schemas", "AccessAssumptions"), demand_source=text, sample=flag,
            city=_ref("schemas", "AccessRow"), districts={"type": "array", "items": _ref("schemas", "AccessRow")},
            shortage={**_collection_of(_object(["type", "id", "properties", "geometry"], type=_enum(("Feature",)),
                                               id={"type": "integer", "description": "the rank"}, properties=area,
                                               geometry=_ref("schemas", "PolygonalGeometry"))),
                      "description": "RFC 7946 FeatureCollection (WGS84) of shortage areas, most places needed "
                                     "first"},
            facilities={"type": "array", "items": facility, "description": "highest demand per place first"},
            grid=_object(["png", "bounds", "cell_m", "legend"],
                         png={**text, "description": "URL of /api/v1/access/grid.png with the same query"},
                         bounds={"type": "array", "minItems": 2, "maxItems": 2, "items": {
                             "type": "array", "minItems": 2, "maxItems": 2, "items": num}},
                         cell_m=integer, legend={"type": "array", "items": legend})),
        "UsageSource": {**usage_source, "description": "Where the usage comes from; synthetic says it is not "
                                                       "observed."},
        "UsageAssumptions": usage_assumptions,
        "UsageResult": _object(
            ["usage", "assumptions", "sample", "city", "districts", "hours", "facilities"],
            usage=_ref("schemas", "UsageSource"), assumptions=_ref("schemas", "UsageAssumptions"), sample=flag,
            city=usage_row, districts={"type": "array", "items": usage_row},
            hours={"type": "array", "minItems": 24, "maxItems": 24,
                   "items": _object(["hour", "visits_per_day", "share"], hour=text, visits_per_day=num,
                                    share=nnum)},
            facilities={"type": "array", "items": usage_facility, "description": "highest utilisation first"}),
        "RecommendationsResult": _object(
            ["assumptions", "demand_source", "sample", "usage", "facilities_with_usage", "counts",
             "recommendations"],
            assumptions=recommend_assumptions, demand_source=text, sample=flag,
            usage=_ref("schemas", "UsageSource"), facilities_with_usage=integer,
            counts=_object(["extend_24h", "merge", "relocate", "add_places"], extend_24h=integer, merge=integer,
                           relocate=integer, add_places=integer),
            recommendations={"type": "array", "items": recommendation}),
    }


def _access_paths(districts: tuple[str, ...]) -> dict[str, Schema]:
    tag = "Coverage & planning"
    pp = planner_params
    too_large = _json(_ref("schemas", "Error"), "access_too_large: the catchment reaches more than "
                                                f"{pp.MAX_ACCESS_PAIRS:,} facility–cell pairs; choose a shorter one.")
    method = ("Enhanced two-step floating catchment area (E2SFCA, Luo & Qi 2009) on the demand grid: each counted "
              "facility's places ÷ the weighted demand in its catchment, summed back to every cell with the same "
              "weights (places per person). The catchment is the coverage threshold (route metres = straight line "
              "× detour_factor); a facility without a capacity counts as its kind's median. Shortage: demand per "
              "place above max_demand_per_place. Unknown parameters are refused (400).")
    return {
        "/api/v1/access": {"get": _op(
            "getAccess", tag, "Capacity-aware access (E2SFCA) by district, shortage areas, each facility's ratio", {
                "200": _json(_ref("schemas", "AccessResult"), "The figures, the shortage areas and the grid's "
                                                              "legend."),
                **_errors(400), "422": too_large},
            description=method, parameters=_planner_parameters(districts, pp.ACCESS))},
        "/api/v1/access/grid.png": {"get": _op(
            "getAccessGrid", tag, "The access classes of every cell as a PNG map overlay", {
                "200": {"description": "Cells coloured by demand per place against the shortage threshold (legend "
                                       "in /api/v1/access).",
                        "headers": {"X-Overlay-Bounds": {"description": "south,west,north,east (WGS84)",
                                                         "schema": {"type": "string"}}},
                        "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
                **_errors(400), "422": too_large},
            description=method, parameters=_planner_parameters(districts, pp.ACCESS_GRID))},
        "/api/v1/usage": {"get": _op(
            "getUsage", tag, "Utilisation against capacity, busiest hours and night use", {
                "200": _json(_ref("schemas", "UsageResult"), "Per facility, district and city; usage.synthetic "
                                                             "says when the rows are the generated sample."),
                **_errors(400)},
            description="From the usage imported with `workermap usage import` (while none was and the registry is "
                        "the generated sample: the shipped SYNTHETIC sample). A visit holds a place for one hour; "
                        "night is 22:00–06:00.", parameters=_planner_parameters(districts, pp.USAGE))},
        "/api/v1/recommendations": {"get": _op(
            "getRecommendations", tag, "What to do where, and why", {
                "200": _json(_ref("schemas", "RecommendationsResult"), "Recommendations with their reasons (English "
                                                                       "and Chinese) and figures."),
                **_errors(400), "422": too_large},
            description="extend_24h where night use is high and no counted 24-hour facility is within the "
                        "threshold; merge or relocate under-used facilities; add_places where E2SFCA shows a "
                        "shortage. Takes the parameters of /api/v1/access with the usage period and the rules' "
                        "thresholds.", parameters=_planner_parameters(districts, pp.RECOMMEND))},
    }


@lru_cache(maxsize=4)
def build_spec(district_values: tuple[str, ...], legacy_districts: tuple[str, ...] = (),
               example_ids: tuple[tuple[str, str | None], ...] = ()) -> dict[str, Any]:
    """The OpenAPI 3.0.3 document.

    ``district_values``: adcodes and Chinese/English names the OGC API accepts;
    ``legacy_districts``: adcodes and Chinese names the planner accepts;
    ``example_ids``: (collection id, an existing feature id) for the examples.
    """
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Qingdao worker service map API · 青岛职工服务地图",
            "version": "1.0.0",
            "description": (
                "OGC API – Features (Part 1: Core, GeoJSON, HTML, OpenAPI 3.0) at /ogc, with a proximity "
                "extension (near, radius_m), the JSON API at /api/v1, downloads at /api/v1/export, and "
                "coverage gaps and new-site planning at /api/v1/coverage, /gaps, /plan, /whatif and /report.zip."
                "\n\n"
                "Coordinates are WGS84 longitude/latitude; distances are metres. Unknown query parameters "
                "are refused. Every error has one JSON shape (schema Error): "
                "`{\"error\": {\"status\": 400, \"code\": \"invalid_parameter\", \"message\": \"...\", "
                "\"parameter\": \"kind\", \"value\": \"...\", \"allowed\": \"...\"}}`."),
            "license": {"name": "MIT"},
        },
        "tags": [{"name": "OGC API – Features"}, {"name": "Facilities API"}, {"name": "Nearest"},
                 {"name": "Export"}, {"name": "Coverage & planning"}, {"name": "API description"},
                 {"name": "Reports"}, {"name": "Admin (token)"}, {"name": "Operations"}],
        "paths": {**_ogc_paths(dict(example_ids)), **_api_paths(district_values),
                  **_coverage_paths(legacy_districts, dict(example_ids).get("station")),
                  **_access_paths(legacy_districts), **_admin_paths(),
                  **_report_paths(), **_tile_paths()},
        "components": {
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer",
                                               "description": "A token from `workermap token add NAME`."}},
            "schemas": {**_schemas(), **_admin_schemas(), **_planner_schemas(legacy_districts),
                        **_access_schemas(legacy_districts),
                        **_report_schemas()},
            "parameters": _parameters(district_values),
            "responses": {
                "BadRequest": _json(_ref("schemas", "Error"), "A parameter is unknown or invalid; the "
                                    "message names it, the bad value and what is allowed."),
                "NotFound": _json(_ref("schemas", "Error"), "No such feature."),
                "PlanNotPossible": _json(
                    _ref("schemas", "Error"),
                    "The plan cannot be made as asked; error.code says why: plan_too_large (method=exact on too "
                    "large an instance: use greedy, a district, candidates or a larger min_spacing_m), "
                    "plan_infeasible (no way to place add sites min_spacing_m apart), plan_no_candidates (no "
                    "candidate site left after exclude and min_spacing_m, or none adds demand), plan_solver (no "
                    "MILP solver, or it stopped without a solution)."),
            },
        },
    }


def spec_for(st) -> dict[str, Any]:
    """The document for this app's districts and registry (built once per registry version)."""
    frame = st.districts.frame
    legacy = tuple(dict.fromkeys([*frame["adcode"], *frame["name"]]))
    values = tuple(st.districts.lookup)  # what a district parameter takes (geo.registry_params.DISTRICTS)
    examples = tuple((cid, coll.source.example_id(st)) for cid, coll in ogc.collections().items())
    return build_spec(values, legacy, examples)


@bp.get("/openapi.json")
def spec():
    """The OpenAPI document."""
    NO_PARAMETERS.reject_unknown(request.args)
    return Response(dumps_geojson(spec_for(state())), content_type=OPENAPI_MEDIA_TYPE)


@bp.get("/docs")
def docs():
    """The OpenAPI document rendered by Swagger UI from locally served assets."""
    NO_PARAMETERS.reject_unknown(request.args)
    return render_template("ogc/api_docs.html", spec_url=url_for(".spec"), sample=state().registry.is_sample)
