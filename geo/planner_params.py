"""The planner's parameters and limits, declared once (:class:`geo.params.Param`).

The HTTP views parse with these sets, ``web.openapi`` documents them, and the ``workermap`` planner
commands build their options from them (``cli.base.param_options``), so a range, a default or an allowed
value is written here and nowhere else. Light to import (no numpy): the command line reads it to build
its options. The parsed values become one :class:`geo.planner.PlannerOptions` (``geo.planner.options``).

Sets (each also the JSON body of the POST form, where there is one):

* :data:`COVERAGE` — threshold (``mode`` + ``minutes``, or ``threshold_m``: not both), facility filter,
  ``district``, travel assumptions: every planner endpoint and command takes them;
* :data:`HOURS` (+ ``date``), :data:`GAPS` (+ ``limit``, ``demand``, ``max_area_km2``, ``min_density_km2``);
* :data:`PLAN` (+ ``add``, ``demand``, ``min_spacing_m``, ``exclude``, ``candidates``, ``method``);
* :data:`WHATIF` / :data:`WHATIF_QUERY` (+ ``add`` points, ``remove``, ``close``: a JSON body / a query string);
* :data:`REPORT` / :data:`REPORT_QUERY`: the plan's parameters (``add`` may be 0: no plan) + ``limit``, ``date``
  and the hot spots' ``max_area_km2``, ``min_density_km2``.

>>> v = GAPS.parse({"minutes": "10", "district": "市南区"})
>>> v["minutes"], v["mode"], v["kind"], v["open_at"], v["limit"]
(10.0, 'walk', ('station',), None, 20)
>>> GAPS.parse({"minutes": "10", "threshold_m": "900"})
Traceback (most recent call last):
...
geo.errors.ParameterError: threshold_m must be given alone: pass minutes (with mode) or threshold_m, not both, got '900'
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from geo import vocab
from geo.params import (
    AMENITY,
    INCLUDE_CLOSED,
    INCLUDE_UNKNOWN_HOURS,
    KIND,
    OPEN_24H,
    OPEN_AT,
    TRAVEL,
    TRAVEL_MODEL,
    WORKER,
    NotTogether,
    Param,
    Params,
)

__all__ = [
    "CITY", "CITY_ADCODE", "CITY_NAME", "COVERAGE", "DEMANDS", "EXACT_TIME_LIMIT_S", "GAPS", "HOURS", "MAX_ADD",
    "MAX_CANDIDATES", "DEFAULT_DENSITY_FLOOR_KM2", "DEFAULT_MAX_AREA_KM2", "MAX_AREA_KM2", "MAX_DENSITY_KM2",
    "MIN_AREA_KM2", "MAX_GAPS", "MAX_MINUTES", "MAX_SPACING_M", "MAX_THRESHOLD_M", "MAX_WHATIF_SITES", "METHODS",
    "MIN_MINUTES", "MODES", "PLAN", "PLANNER_TRAVEL", "PLANNER_TRAVEL_DEFAULT", "REPORT", "REPORT_QUERY", "WHATIF",
    "WHATIF_QUERY",
]

# -- vocabularies and limits -----------------------------------------------------------------------------

#: Travel modes of a threshold in minutes.
MODES = ("walk", "ebike")
#: Which demand counts: outdoor workers or residents.
DEMANDS = ("workers", "residents")
#: Siting methods: greedy + 1-swap (any size) or the exact MILP (small instances).
METHODS = ("greedy", "exact")
#: The travel model of every planner answer (coverage, gaps, plan, what-if, access, report) when none is asked for:
#: the one place the shipped default is set (``travel``; nearest keeps geo.params.TRAVEL_MODEL's). ``land``: no
#: coverage across the sea (Jiaozhou Bay, the islands); its city-wide coverage takes under a second.
PLANNER_TRAVEL_DEFAULT = "land"
#: The whole city, as a district value.
CITY_ADCODE = "370200"
CITY_NAME = "青岛市"

DEFAULT_MINUTES = 15
MIN_MINUTES = 1
MAX_MINUTES = 120
MIN_THRESHOLD_M = 1
MAX_THRESHOLD_M = 100_000.0
#: Most new sites one plan places.
MAX_ADD = 200
#: Largest minimum spacing between sites, metres.
MAX_SPACING_M = 50_000
#: Most candidate sites a plan may be given.
MAX_CANDIDATES = 50_000
#: Most sites one what-if adds, removes or closes (each).
MAX_WHATIF_SITES = 500
#: Most uncovered areas one answer lists.
MAX_GAPS = 1000
#: Hot spots (/gaps): no uncovered area larger than this by default, km² (the parameter max_area_km2).
DEFAULT_MAX_AREA_KM2 = 4.0
MIN_AREA_KM2, MAX_AREA_KM2 = 0.25, 100.0
#: Hot spots: a cell joins one when its uncovered demand per km² is at least this floor (min_density_km2), by
#: demand. On the shipped 250 m grid at a 15-minute walk the floors take about half the uncovered workers
#: (48 %) and a third of the uncovered residents (36 %); thinner demand is summed per district (below_floor).
DEFAULT_DENSITY_FLOOR_KM2 = {"workers": 100.0, "residents": 1500.0}
MAX_DENSITY_KM2 = 1_000_000.0
#: Time limit of one exact solve, seconds: well inside the server's 60 s worker timeout (``web.prod``).
EXACT_TIME_LIMIT_S = 30.0


def _b(text: str) -> str:
    b = vocab.CITY_BOUNDS
    return text.format(bounds=f"lon {b['lon_min']}–{b['lon_max']}, lat {b['lat_min']}–{b['lat_max']}")


def _pairs_schema(limit: int, *, min_items: int) -> dict:
    return {"type": "array", "minItems": min_items, "maxItems": limit,
            "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}}}


# converters: the parsers in geo.inputs import numpy and shapely, so they are imported when first used


def _candidates(raw):
    from geo.inputs import lonlat_pairs

    return lonlat_pairs(raw, "candidates", MAX_CANDIDATES)


def _exclusion(raw):
    from geo.inputs import exclusion_polygons

    return exclusion_polygons(raw, "exclude")


def _sites(raw):
    from geo.inputs import points_text_or_pairs

    return points_text_or_pairs(raw, "add", MAX_WHATIF_SITES)


def _remove(raw):
    from geo.inputs import id_list

    return id_list(raw, "remove", MAX_WHATIF_SITES)


def _close(raw):
    from geo.inputs import id_list

    return id_list(raw, "close", MAX_WHATIF_SITES)


# -- the declarations ------------------------------------------------------------------------------------

MODE = Param("mode", "enum", "Travel mode of minutes: threshold_m = minutes × speed ÷ detour_factor. Checked but "
             "unused with threshold_m.", default="walk", values=MODES)
MINUTES = Param("minutes", "number", "Threshold in minutes by mode. Not together with threshold_m (400).",
                default=DEFAULT_MINUTES, lo=MIN_MINUTES, hi=MAX_MINUTES)
THRESHOLD_M = Param("threshold_m", "number", "Threshold as a straight-line distance in metres, instead of minutes "
                    "(not together with minutes: 400).", lo=MIN_THRESHOLD_M, hi=MAX_THRESHOLD_M)
#: The planner's kind: also ``any`` (every kind), and worker stations by default.
PLANNER_KIND = replace(KIND, description="Facility kinds that count (any of them); default station; any = every "
                       "kind.", default=("station",), values=lambda: (*vocab.KINDS, "any"))
#: No opening-hours filter by default (coverage at any hour).
PLANNER_OPEN_AT = replace(OPEN_AT, description="Only facilities open then: an ISO 8601 date-time (no offset = "
                          "Qingdao time) or 'now'; 'any' (the default) ignores opening hours.", default="any")
PLANNER_INCLUDE_CLOSED = replace(INCLUDE_CLOSED, description="Also count temporarily closed and under-maintenance "
                                 "facilities (removed ones never).")
PLANNER_OPEN_24H = replace(OPEN_24H, description="Count only facilities open round the clock (24/7).")
PLANNER_INCLUDE_UNKNOWN_HOURS = replace(INCLUDE_UNKNOWN_HOURS, description="Let the hours filters (open_at, open_24h, "
                                        "each hour of the 24-hour table) count facilities whose opening hours are "
                                        "unknown; by default they never count as open.")
PLANNER_TRAVEL = replace(TRAVEL_MODEL, default=PLANNER_TRAVEL_DEFAULT, description=(
    "Travel model of the threshold: straight (a circle: straight line × detour_factor), land (shortest path over land "
    "at the mode's speed: coverage never crosses the sea) or network (shortest path along the imported OpenStreetMap "
    "roads, the snap legs walked; needs `workermap osm import FILE.osm.pbf`, else a 400). With minutes the route's "
    "minutes are compared, with threshold_m its metres. Every answer states the model (assumptions.travel)."))
DISTRICT = Param("district", "text", f"Only this district (adcode or Chinese name): its rows, overlay, gaps and "
                 f"candidate sites; {CITY_ADCODE} or {CITY_NAME} = the whole city (the default).",
                 allowed_text="a Qingdao district adcode or name, e.g. 370202 or 市南区")
#: The city the planner answers for (``geo.city_planner``): required where the region served is a province or the
#: nation, whose units are not a city's districts.
CITY = Param("city", "text", "The prefecture-level city the figures are for (adcode or Chinese name, e.g. 370200 or "
             "青岛市): required where the region served (WORKERMAP_REGION) is a province or the nation (its cities: "
             "/api/v1/districts of a province), else optional and the region itself; district is then one of its "
             "counties.", max_len=40, allowed_text="a prefecture-level city's adcode or Chinese name, e.g. 370200 "
             "or 青岛市")
DATE = Param("date", "text", "A Qingdao calendar date, YYYY-MM-DD; default: the date of open_at, else today.",
             max_len=10, convert=date.fromisoformat, allowed_text="a date such as 2026-11-24",
             schema_extra={"format": "date"})
LIMIT = Param("limit", "integer", "How many uncovered areas, largest first.", default=20, lo=1, hi=MAX_GAPS)
DEMAND = Param("demand", "enum", "Which demand counts: outdoor workers or residents (ranks gaps, drives the plan).",
               default="workers", values=DEMANDS)
MAX_AREA = Param("max_area_km2", "number", "Largest uncovered area (hot spot), km²: a larger group of dense "
                 "uncovered cells is split into compact parts no larger than this.", default=DEFAULT_MAX_AREA_KM2,
                 lo=MIN_AREA_KM2, hi=MAX_AREA_KM2)
MIN_DENSITY = Param("min_density_km2", "number", "Density floor of the uncovered areas: a cell counts when its "
                    "uncovered demand (workers or residents, as demand) per km² is at least this; thinner demand is "
                    "summed per district (below_floor). Default: "
                    + " or ".join(f"{v:g} {k}" for k, v in DEFAULT_DENSITY_FLOOR_KM2.items()) + " per km²; 0 = "
                    "every uncovered cell.", lo=0, hi=MAX_DENSITY_KM2)
ADD = Param("add", "integer", "How many new sites to place (existing facilities are kept).", default=20, lo=1,
            hi=MAX_ADD)
MIN_SPACING_M = Param("min_spacing_m", "number", "New sites at least this far (straight line, metres) from every "
                      "existing and every other new site.", default=0, lo=0, hi=MAX_SPACING_M)
METHOD = Param("method", "enum", "greedy (greedy + 1-swap, any size) or exact (a MILP solved by HiGHS: one district "
               "or a candidate list; larger models are a 422 plan_too_large).", default="greedy", values=METHODS)
EXCLUDE = Param(
    "exclude", "json", _b("Where no new site may go (edges included): a GeoJSON Polygon or MultiPolygon in WGS84 "
                          "inside Qingdao ({bounds}), or a Feature or FeatureCollection of them (default: nowhere)."),
    convert=_exclusion, allowed_text="a GeoJSON Polygon or MultiPolygon (WGS84), or a Feature or FeatureCollection "
    "of them",
    schema_extra={
        "type": "object", "required": ["type"],
        "properties": {
            "type": {"type": "string", "enum": ["Polygon", "MultiPolygon", "Feature", "FeatureCollection"]},
            "coordinates": {"type": "array"},
            "geometry": {"type": "object", "required": ["type", "coordinates"],
                         "properties": {"type": {"type": "string", "enum": ["Polygon", "MultiPolygon"]},
                                        "coordinates": {"type": "array"}}},
            "features": {"type": "array", "items": {"type": "object", "properties": {"geometry": {
                "type": "object", "required": ["type", "coordinates"],
                "properties": {"type": {"type": "string", "enum": ["Polygon", "MultiPolygon"]},
                               "coordinates": {"type": "array"}}}}}}},
        "example": {"type": "Polygon", "coordinates": [[[120.33, 36.05], [120.36, 36.05], [120.36, 36.08],
                                                        [120.33, 36.08], [120.33, 36.05]]]}})
CANDIDATES = Param(
    "candidates", "json", _b(f"Candidate sites to choose from (default: every land cell of the demand grid): "
                             f"[lon, lat] WGS84 pairs on land inside Qingdao ({{bounds}}), at most {MAX_CANDIDATES}."),
    convert=_candidates, allowed_text=f"a non-empty list of [lon, lat] number pairs (at most {MAX_CANDIDATES})",
    schema_extra=_pairs_schema(MAX_CANDIDATES, min_items=1))
#: What-if: new sites in a JSON body ([[lon, lat], …]) or on the command line (lon,lat values).
SITES = Param("add", "json", _b(f"New sites: [lon, lat] WGS84 pairs on land inside Qingdao ({{bounds}}), at most "
                                f"{MAX_WHATIF_SITES}."), convert=_sites,
              allowed_text="lon,lat pairs separated by ';' (GET) or [[lon, lat], ...] (POST)",
              schema_extra=_pairs_schema(MAX_WHATIF_SITES, min_items=0))
#: What-if: new sites in a query string.
SITES_QUERY = replace(SITES, description=f"New sites: lon,lat pairs (WGS84, on land inside Qingdao) separated by "
                      f"';', at most {MAX_WHATIF_SITES}.",
                      schema_extra={"type": "string", "example": "120.38,36.07;120.41,36.10"})
REMOVE = Param("remove", "json", "Facility ids taken away for good (an unknown id is a 400).", convert=_remove,
               allowed_text=f"at most {MAX_WHATIF_SITES} facility ids",
               schema_extra={"type": "array", "maxItems": MAX_WHATIF_SITES, "items": {"type": "string",
                                                                                      "pattern": r"\S"}})
CLOSE = replace(REMOVE, name="close", description="Facility ids closed for a while (reads the same as remove).",
                convert=_close)
#: In a query string: comma-separated, so one id has no comma.
_QUERY_IDS = {"type": "array", "maxItems": MAX_WHATIF_SITES, "items": {"type": "string",
                                                                       "pattern": r"^[^,]*[^,\s][^,]*$"}}
REMOVE_QUERY = replace(REMOVE, schema_extra=_QUERY_IDS,
                       description="Facility ids (comma-separated) taken away for good; an unknown id is a 400.")
CLOSE_QUERY = replace(CLOSE, schema_extra=_QUERY_IDS,
                      description="Facility ids (comma-separated) closed for a while (reads the same as remove).")
REPORT_ADD = replace(ADD, lo=0, description="How many new sites the report's plan places; 0 = no plan.")
REPORT_LIMIT = replace(LIMIT, default=50, description="How many uncovered areas the report lists.")

# -- the sets --------------------------------------------------------------------------------------------

COVERAGE = Params(MODE, MINUTES, THRESHOLD_M, PLANNER_KIND, AMENITY, WORKER, PLANNER_OPEN_AT, PLANNER_OPEN_24H,
                  PLANNER_INCLUDE_CLOSED, PLANNER_INCLUDE_UNKNOWN_HOURS, CITY, DISTRICT, TRAVEL, PLANNER_TRAVEL,
                  rules=[NotTogether("minutes", "threshold_m",
                                     "given alone: pass minutes (with mode) or threshold_m, not both")])
HOURS = Params(COVERAGE, DATE)
GAPS = Params(COVERAGE, LIMIT, DEMAND, MAX_AREA, MIN_DENSITY)
#: POST /api/v1/plan (a JSON body), ``workermap plan``.
PLAN = Params(COVERAGE, ADD, DEMAND, MIN_SPACING_M, EXCLUDE, CANDIDATES, METHOD)
#: POST /api/v1/whatif (a JSON body), ``workermap whatif``.
WHATIF = Params(COVERAGE, SITES, REMOVE, CLOSE)
#: GET /api/v1/whatif.
WHATIF_QUERY = Params(COVERAGE, SITES_QUERY, REMOVE_QUERY, CLOSE_QUERY)
#: POST /api/v1/report.zip (a JSON body), ``workermap report``: the plan's parameters, then the report's own.
REPORT = Params(PLAN.replacing(REPORT_ADD), REPORT_LIMIT, DATE, MAX_AREA, MIN_DENSITY)
#: GET /api/v1/report.zip: as :data:`REPORT` but for the two that do not fit a query string (exclude, candidates).
REPORT_QUERY = REPORT.without("exclude", "candidates")

# -- capacity-aware access (geo.access), usage (geo.usage), recommendations (geo.recommend) ---------------

#: Distance decay of the E2SFCA weights (geo.access.decay_weights).
DECAYS = ("gaussian", "step", "none")
#: Most facility–cell pairs one E2SFCA computes (about 5 s and 200 MB at the limit): a longer catchment is a 422.
MAX_ACCESS_PAIRS = 4_000_000
#: Most visits one usage row may count.
MAX_VISITS = 100_000

DECAY = Param("decay", "enum", "Distance decay of the E2SFCA weights over the catchment: gaussian (exp(-d²/2σ²), σ = "
              "half the catchment, 0 beyond it), step (1, 0.68, 0.22 in its thirds: Luo & Qi 2009) or none (plain "
              "2SFCA).", default="gaussian", values=DECAYS)
MAX_DEMAND_PER_PLACE = Param("max_demand_per_place", "number", "Shortage where a cell's demand per accessible place "
                             "(workers or residents, as demand says) exceeds this; default: twice the city's demand in "
                             "reach per place.", lo=0.01, hi=10_000_000)
SHORTAGE_LIMIT = replace(LIMIT, description="How many shortage areas, largest shortfall of places first.")
SINCE = Param("since", "text", "Usage from this Qingdao date on (YYYY-MM-DD; default: the first day stored).",
              max_len=10, convert=date.fromisoformat, allowed_text="a date such as 2026-11-02",
              schema_extra={"format": "date"})
UNTIL = replace(SINCE, name="until", description="Usage up to this Qingdao date, inclusive (YYYY-MM-DD; default: "
                "the last day stored).")
USAGE_KIND = replace(KIND, description="Facility kinds (any of them); default every kind with usage data.")
NIGHT_SHARE = Param("night_share", "number", "Recommend 24-hour opening where at least this share of a facility's "
                    "visits falls between 22:00 and 06:00 (and no 24-hour facility is within the threshold).",
                    default=0.2, lo=0.0, hi=1.0)
UNDERUSED = Param("underused", "number", "A facility is under-used when its visits fill less than this share of its "
                  "place-hours (capacity × opening hours) over the period.", default=0.05, lo=0.0, hi=1.0)

#: GET /api/v1/access, ``workermap access``.
ACCESS = Params(COVERAGE, DEMAND, DECAY, MAX_DEMAND_PER_PLACE, SHORTAGE_LIMIT)
#: GET /api/v1/access/grid.png: the cells of /access (no list of areas).
ACCESS_GRID = ACCESS.without("limit")
#: GET /api/v1/usage, ``workermap usage show``.
USAGE = Params(CITY, DISTRICT, USAGE_KIND, SINCE, UNTIL)
#: GET /api/v1/recommendations, ``workermap recommend``.
RECOMMEND = Params(ACCESS, SINCE, UNTIL, NIGHT_SHARE, UNDERUSED)
