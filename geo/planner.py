"""The planner, end to end: parsed parameters -> one options object -> coverage, gaps, plans, what-ifs, reports.

Every adapter goes through here: a view of ``web.coverage_api`` parses its request with the declarations of
:mod:`geo.planner_params` into a :class:`PlannerOptions` (:func:`options`), calls one function below and
serialises what it returns; the ``workermap`` planner commands build the same options from their command line
and call the same functions, so the API and the CLI answer the same question the same way. The planner
report's data (tables, figures, map layers as GeoJSON, the CSV/GeoJSON files) is built here too
(:func:`report`); ``web.report`` only renders its HTML page.

What a computation rests on is in :class:`PlannerData`: the prepared demand grid, the facility index, the
districts, the travel assumptions, whether the registry is the generated sample, and an optional cache
(``geo.coverage.LruCache``; the web keeps one per registry version) so that a coverage, a plan or a gap
layer asked for twice is computed once.

>>> import numpy as np
>>> from geo.crs import to_lonlat
>>> from geo.demand import DemandGrid
>>> from geo.geography import load_districts
>>> from geo.nearest import FacilityIndex
>>> i, j = np.meshgrid(np.arange(6), np.arange(6))  # 600 m x 600 m of 100 m cells in 市南区, no facility
>>> x, y = 500_050.0 + 100 * i.ravel(), 4_000_050.0 + 100 * j.ravel()
>>> lon, lat = to_lonlat(x, y)
>>> grid = DemandGrid(x, y, lon, lat, np.full(36, "370202"), np.ones(36), np.ones(36), cell_m=100)
>>> data = PlannerData(PreparedGrid(grid, {"370202": "市南区"}), FacilityIndex([]), load_districts())
>>> opts = options(data, PLAN, {"threshold_m": "150", "add": "2", "district": "市南区"})
>>> opts.threshold.radius_m, opts.district, opts.add
(150.0, '370202', 2)
>>> [s["marginal_gain"] for s in plan_payload(data, opts)["sites"]]
[9.0, 9.0]
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np

from geo.coverage import (
    Coverage,
    FacilityFilter,
    LruCache,
    PreparedGrid,
    Threshold,
    WhatIf,
    assumptions,
    compute_coverage,
    hourly_coverage,
    whatif,
)
from geo.export import csv_safe
from geo.gaps import Gap, HotSpots, Places, gap_features, gaps_feature_collection, hot_spots, lost_areas, town_places
from geo.geography import Districts
from geo.hours import now_local
from geo.inputs import on_land
from geo.nearest import FacilityIndex, Travel
from geo.overlay import CLASSES, Overlay, coverage_overlay, legend, overlay_bounds
from geo.params import TRAVEL, MissingParameter, Params
from geo.planner_params import (
    COVERAGE,
    DEFAULT_MAX_AREA_KM2,
    EXACT_TIME_LIMIT_S,
    GAPS,
    HOURS,
    PLAN,
    REPORT,
    REPORT_QUERY,
    WHATIF,
    WHATIF_QUERY,
)
from geo.siting import Plan, plan_sites

__all__ = [
    "COVERAGE", "GAPS", "HOURS", "PLAN", "REPORT", "REPORT_QUERY", "WHATIF", "WHATIF_QUERY",
    "PlannerData", "PlannerOptions", "ReportData", "Table", "coverage", "coverage_grid",
    "coverage_hours", "coverage_summary", "coverage_tables", "csv_bytes", "facilities_served", "gaps", "options",
    "plan_payload", "report", "report_title", "run_plan", "run_whatif", "scope_of", "sites_download", "travel_text",
    "whatif_payload",
]

SITE_COLUMNS = ["rank", "lon", "lat", "district", "adcode", "marginal_gain", "cumulative_covered", "cumulative_pct"]
GAP_COLUMNS = ["rank", "district", "adcode", "place", "place_distance_m", "cells", "area_km2", "uncovered_workers",
               "uncovered_residents", "lon", "lat", "centroid_lon", "centroid_lat", "centroid_gcj02_lon",
               "centroid_gcj02_lat"]


# --------------------------------------------------------------------------- what a computation rests on


@dataclass(frozen=True, eq=False)
class PlannerData:
    """The data the planner computes on (one registry version): demand, facilities, districts, travel."""

    prepared: PreparedGrid
    index: FacilityIndex
    districts: Districts
    travel: Travel = field(default_factory=Travel)
    sample: bool = False
    cache: LruCache | None = None
    #: What the ``land`` and ``network`` models measure with (``geo.travel.TravelContext``); None: the process's
    #: context for the environment's settings, built when a routed model is first asked for.
    travel_context: Any = None
    #: (adcode, Chinese name) of the city the figures are for (``geo.city_planner``; None: not said).
    city: tuple[str, str] | None = None

    def context_for(self, model: str) -> Any:
        """The travel context a ``model`` is measured with (None for ``straight``: it needs none)."""
        if model == "straight" or self.travel_context is not None:
            return self.travel_context
        from geo.settings import Settings
        from geo.travel import TravelContext

        return TravelContext.for_settings(Settings.from_env())

    def cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        return compute() if self.cache is None else self.cache.get_or_compute(key, compute)


@dataclass(frozen=True, eq=False)
class PlannerOptions:
    """Everything a planner answer depends on besides the data, parsed and checked.

    ``district``: an adcode (None = the city). ``add``: sites to place (a plan; 0 in a report = no plan);
    ``exclude``: a shapely geometry (WGS84) no site may be in; ``candidates``: (n, 2) WGS84 points to choose
    from (None = every land cell). ``limit``: uncovered areas listed, ``max_area_km2`` the largest and
    ``min_density_km2`` their density floor (None: the demand's default); ``day``: the date of the 24-hour table
    (None = of ``open_at``, else today). ``add_sites``/``remove``/``close``: a what-if's changes.
    """

    threshold: Threshold
    facility_filter: FacilityFilter = field(default_factory=FacilityFilter)
    district: str | None = None
    demand: str = "workers"
    add: int = 20
    min_spacing_m: float = 0.0
    method: str = "greedy"
    exclude: Any = None
    candidates: np.ndarray | None = None
    limit: int = 20
    max_area_km2: float = DEFAULT_MAX_AREA_KM2
    min_density_km2: float | None = None
    day: date | None = None
    add_sites: tuple[tuple[float, float], ...] = ()
    remove: tuple[str, ...] = ()
    close: tuple[str, ...] = ()

    @property
    def siting_key(self) -> tuple:
        return (self.add, self.demand, self.min_spacing_m, self.method,
                None if self.exclude is None else self.exclude.wkb,
                None if self.candidates is None else self.candidates.tobytes())

    @property
    def key(self) -> tuple:
        """Every option as one hashable value: two option objects with equal keys ask the same question (a
        cache key for an answer that rests on all of them, such as the report)."""
        return (self.threshold, self.facility_filter, self.district, *self.siting_key, self.limit, self.max_area_km2,
                self.min_density_km2, self.day, self.add_sites, self.remove, self.close)

    def report_day(self) -> date:
        f = self.facility_filter
        return self.day or (f.open_at.date() if f.open_at is not None else now_local().date())


def _travel(values: Mapping[str, Any], base: Travel) -> Travel:
    given = {name: values[name] for name in TRAVEL.names if values.get(name) is not None}
    return replace(base, **given) if given else base


def from_values(data: PlannerData, values: Mapping[str, Any]) -> PlannerOptions:
    """The options for the values of parsed declarations (``Params.parse``); those not given keep defaults."""
    travel = _travel(values, data.travel)
    model = values.get("travel") or COVERAGE["travel"].default
    how = {"model": model, "context": data.context_for(model)}
    if values.get("threshold_m") is not None:
        threshold = Threshold.metres(float(values["threshold_m"]), travel, **how)
    else:  # the declared defaults where a caller (geo.access) gives fewer values than a parse would
        threshold = Threshold.minutes_by(float(values.get("minutes") or COVERAGE["minutes"].default),
                                         values.get("mode") or COVERAGE["mode"].default, travel, **how)
    kinds = tuple(values.get("kind") or COVERAGE["kind"].default)
    when = values.get("open_at")
    ffilter = FacilityFilter(kinds=() if "any" in kinds else kinds, amenities=tuple(values.get("amenity") or ()),
                             worker=values.get("worker"), open_at=now_local() if when == "now" else when,
                             include_closed=bool(values.get("include_closed")),
                             open_24h=bool(values.get("open_24h")),
                             include_unknown_hours=bool(values.get("include_unknown_hours")))
    code = data.prepared.district_code(values.get("district"))
    out: dict[str, Any] = {"threshold": threshold, "facility_filter": ffilter,
                           "district": None if code is None else data.prepared.adcodes[code]}
    add = values.get("add")
    if isinstance(add, np.ndarray):  # a what-if's new sites (the plan's ``add`` is a count)
        out["add_sites"] = tuple((float(a), float(b)) for a, b in on_land(add, data.districts, "add"))
    elif add is not None:
        out["add"] = int(add)
    for name in ("demand", "method", "limit", "remove", "close", "max_area_km2", "min_density_km2"):
        if values.get(name) is not None:
            out[name] = values[name]
    if values.get("min_spacing_m") is not None:
        out["min_spacing_m"] = float(values["min_spacing_m"])
    if values.get("candidates") is not None:
        out["candidates"] = on_land(values["candidates"], data.districts, "candidates")
    out["exclude"] = values.get("exclude")
    out["day"] = values.get("date")
    return PlannerOptions(**out)


def options(data: PlannerData, params: Params, args: Mapping, *, check_unknown: bool = True) -> PlannerOptions:
    """Parse ``args`` (query args, a JSON body, the values a command line gave) with ``params`` (a set of
    :mod:`geo.planner_params`) and build the options: a :class:`ParameterError` names any bad value."""
    return from_values(data, params.parse(args, check_unknown=check_unknown))


# --------------------------------------------------------------------------- coverage


def coverage(data: PlannerData, opts: PlannerOptions) -> Coverage:
    """The coverage for the options' threshold and facility filter (computed once per cache)."""
    key = ("coverage", opts.threshold, opts.facility_filter)
    return data.cached(key, lambda: compute_coverage(data.prepared, data.index, opts.threshold,
                                                     facility_filter=opts.facility_filter))


def scope_of(data: PlannerData, district: str | None) -> dict[str, Any]:
    """Where the figures are: the district (None = the whole city) and the city (when the data say it)."""
    return {"district": district} if data.city is None else {"district": district, "city": data.city[0]}


def _meta(data: PlannerData, cov: Coverage, district: str | None) -> dict[str, Any]:
    return {"assumptions": {**cov.assumptions(), **scope_of(data, district)}, "demand_source": cov.prepared.source,
            "sample": data.sample}


def coverage_tables(data: PlannerData, opts: PlannerOptions) -> dict[str, Any]:
    """Coverage of the city and by district (or of the one district), with the assumptions."""
    cov = coverage(data, opts)
    return {**_meta(data, cov, opts.district), "city": cov.city_row(),
            "districts": cov.district_table(opts.district)}


def coverage_summary(data: PlannerData, opts: PlannerOptions) -> dict[str, Any]:
    """:func:`coverage_tables` and the grid overlay's bounds, cell size and legend (``GET /api/v1/coverage``)."""
    out = coverage_tables(data, opts)
    mask = data.prepared.cell_mask(opts.district)
    bounds = data.cached(("bounds", opts.district),
                         lambda: overlay_bounds(data.prepared, None if mask is None else np.flatnonzero(mask)))
    out["grid"] = {"bounds": [list(bounds[0]), list(bounds[1])], "cell_m": data.prepared.cell_m,
                   "legend": legend(opts.threshold.radius_m)}
    return out


def coverage_grid(data: PlannerData, opts: PlannerOptions) -> Overlay:
    """The coverage grid as a PNG overlay (of the district, if one is given)."""
    cov = coverage(data, opts)
    return data.cached(("png", opts.threshold, opts.facility_filter, opts.district),
                       lambda: coverage_overlay(cov, district=opts.district))


def _hour_rows(data: PlannerData, opts: PlannerOptions, day: date) -> list[dict]:
    anytime = opts.facility_filter.at(None)
    return data.cached(("hours", opts.threshold, anytime, opts.district, day),
                       lambda: hourly_coverage(data.prepared, data.index, opts.threshold, anytime, day=day,
                                               district=opts.district))


def coverage_hours(data: PlannerData, opts: PlannerOptions) -> dict[str, Any]:
    """Coverage at each full hour of ``opts.day`` (default: the date of open_at, else today, Qingdao)."""
    day = opts.report_day()
    rows = _hour_rows(data, opts, day)
    anytime = opts.facility_filter.at(None)
    a = {**assumptions(opts.threshold, data.prepared, anytime), **scope_of(data, opts.district)}
    a["filter"]["open_at"] = "each full hour of the date"
    return {"assumptions": a, "demand_source": data.prepared.source, "sample": data.sample, "date": day.isoformat(),
            "scope": rows[0]["name"] if rows else None, "hours": rows}


def facilities_served(data: PlannerData, opts: PlannerOptions) -> dict[str, Any]:
    """Demand served per eligible facility (of the district, if one is given)."""
    cov = coverage(data, opts)
    rows = cov.facility_table()
    if opts.district is not None:
        name = data.prepared.names[data.prepared.adcodes.index(opts.district)]
        rows = [r for r in rows if r["district"] == name]
    return {**_meta(data, cov, opts.district), "count": len(rows), "facilities": rows}


# --------------------------------------------------------------------------- gaps


def places(data: PlannerData) -> Places:
    """The townships and towns uncovered areas are named after (``geo.gaps.town_places``), once per cache."""
    return data.cached(("places",), lambda: town_places(data.index.facilities, data.districts))


def _gap_key(opts: PlannerOptions) -> tuple:
    return (opts.threshold, opts.facility_filter, opts.district, opts.limit, opts.demand, opts.max_area_km2,
            opts.min_density_km2)


def _hot_spots(data: PlannerData, opts: PlannerOptions) -> HotSpots:
    cov = coverage(data, opts)
    return data.cached(("hot-spots", *_gap_key(opts)), lambda: hot_spots(
        cov, places(data), district=opts.district, limit=opts.limit, rank_by=opts.demand,
        max_area_km2=opts.max_area_km2, min_density_km2=opts.min_density_km2))


def _gaps_fc(spots: HotSpots, assumptions: dict, demand_source: str) -> dict[str, Any]:
    return gaps_feature_collection(spots.areas, assumptions={**assumptions, "hot_spots": spots.settings()},
                                   demand_source=demand_source, summary=spots.summary(),
                                   below_floor=spots.below_floor)


def gaps(data: PlannerData, opts: PlannerOptions) -> dict[str, Any]:
    """The densest uncovered areas (``opts.limit`` hot spots, none over ``opts.max_area_km2``, ranked by uncovered
    ``opts.demand``) as RFC 7946 GeoJSON, with the demand below the density floor per district (``below_floor``)
    and how much of the uncovered demand the areas hold (``summary``)."""
    cov = coverage(data, opts)
    return data.cached(("gaps", *_gap_key(opts)), lambda: _gaps_fc(
        _hot_spots(data, opts), {**cov.assumptions(), **scope_of(data, opts.district),
                                 "ranked_by": f"uncovered {opts.demand}"}, cov.prepared.source))


# --------------------------------------------------------------------------- plan


def run_plan(data: PlannerData, opts: PlannerOptions) -> Plan:
    """Where to add ``opts.add`` sites (``geo.siting.plan_sites``); a SitingError (422) if it cannot be made."""
    cov = coverage(data, opts)
    key = ("plan", opts.threshold, opts.facility_filter, opts.district, *opts.siting_key)
    return data.cached(key, lambda: plan_sites(
        cov, add=opts.add, demand=opts.demand, min_spacing_m=opts.min_spacing_m, exclude=opts.exclude,
        candidates=opts.candidates, district=opts.district, method=opts.method, time_limit_s=EXACT_TIME_LIMIT_S))


def _plan_assumptions(opts: PlannerOptions, plan: Plan) -> dict[str, Any]:
    return {"add": opts.add, "demand": opts.demand, "min_spacing_m": opts.min_spacing_m, "method": opts.method,
            "candidates": "listed" if opts.candidates is not None else "land cells of the demand grid",
            "candidate_count": plan.candidates, "excluded_area": opts.exclude is not None,
            "improvement": "1-swap + randomised restarts" if opts.method == "greedy" else None}


def plan_payload(data: PlannerData, opts: PlannerOptions, plan: Plan | None = None) -> dict[str, Any]:
    """The plan as ``POST /api/v1/plan`` answers it: sites, curve, assumptions, notes, the exact solve."""
    plan = plan if plan is not None else run_plan(data, opts)
    out = plan.as_dict()
    meta = _meta(data, coverage(data, opts), opts.district)
    meta["assumptions"].update(_plan_assumptions(opts, plan))
    return {"sites": out["sites"], "curve": out["curve"], **meta, "total_demand": out["total_demand"],
            "covered_before": out["covered_before"], "added_gain": out["added_gain"], "notes": out["notes"],
            "exact": out["exact"]}


def sites_feature_collection(plan: Plan | None, *, assumptions: dict, demand_source: str) -> dict[str, Any]:
    """The plan's sites (none without a plan) as RFC 7946 points (WGS84), with the assumptions as foreign members."""
    return {"type": "FeatureCollection", "demand_source": demand_source, "assumptions": assumptions,
            "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [s["lon"], s["lat"]]},
                          "properties": {k: s[k] for k in SITE_COLUMNS if k not in ("lon", "lat")}}
                         for s in (plan.sites if plan is not None else [])]}


def sites_download(data: PlannerData, opts: PlannerOptions, plan: Plan, fmt: str) -> bytes:
    """The plan's sites as a file: ``geojson``, or ``csv`` (UTF-8 BOM; it travels alone, so every row carries
    the assumptions and the demand source)."""
    a = coverage(data, opts).assumptions()
    if fmt == "geojson":
        fc = sites_feature_collection(plan, assumptions={**a, "demand": plan.demand,
                                                         "min_spacing_m": plan.min_spacing_m, "method": plan.method},
                                      demand_source=data.prepared.source)
        return json.dumps(fc, ensure_ascii=False).encode("utf-8")
    extra = {"demand": plan.demand, "travel": a["travel"]["model"], "threshold_m": a["threshold_m"], "mode": a["mode"],
             "minutes": a["minutes"],
             "detour_factor": a["detour_factor"], "walk_kmh": a["walk_kmh"], "ebike_kmh": a["ebike_kmh"],
             "min_spacing_m": plan.min_spacing_m, "method": plan.method, "demand_source": data.prepared.source}
    return csv_bytes([{**site, **extra} for site in plan.sites], SITE_COLUMNS + list(extra))


# --------------------------------------------------------------------------- what-if


def run_whatif(data: PlannerData, opts: PlannerOptions) -> WhatIf:
    """Coverage with ``opts.add_sites`` added and ``opts.remove``/``opts.close`` taken out, next to today's."""
    if not (opts.add_sites or opts.remove or opts.close):
        raise MissingParameter("add", None, "lon,lat points to add, or facility ids to remove or close",
                               "give at least one of add (lon,lat points), remove (ids) or close (ids)")
    today = coverage(data, opts)
    key = ("whatif", opts.threshold, opts.facility_filter, opts.add_sites, opts.remove, opts.close)
    return data.cached(key, lambda: whatif(data.prepared, data.index, opts.threshold, opts.facility_filter,
                                           add=opts.add_sites, remove=opts.remove, close=opts.close, today=today))


#: How many newly uncovered areas a what-if lists (the most uncovered workers first).
MAX_LOST_AREAS = 50


def whatif_payload(data: PlannerData, opts: PlannerOptions, result: WhatIf | None = None) -> dict[str, Any]:
    """The what-if as ``/api/v1/whatif`` answers it: the scenario and the comparison table."""
    result = result if result is not None else run_whatif(data, opts)
    today = result.today
    return {**_meta(data, today, opts.district),
            "scenario": {"added": result.added, "removed": result.removed, "closed": result.closed,
                         "notes": result.notes, "eligible_today": today.eligible,
                         "eligible_scenario": result.scenario.eligible},
            "rows": result.table(opts.district),
            "newly_uncovered": {"type": "FeatureCollection", "features": gap_features(lost_areas(
                today, result.scenario, places(data), district=opts.district, limit=MAX_LOST_AREAS))}}


# --------------------------------------------------------------------------- files


def _cell(v):
    """A CSV cell: lists joined with ';', formulas defused (geo.export.csv_safe)."""
    return csv_safe(";".join(map(str, v)) if isinstance(v, list | tuple) else v)


def csv_bytes(rows: list[dict], columns: list[str] | None = None) -> bytes:
    """CSV for spreadsheets: UTF-8 with a byte-order mark, CRLF, formulas defused; columns of the first row
    by default."""
    columns = columns or (list(rows[0]) if rows else [])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in columns])
    return buf.getvalue().encode("utf-8-sig")


def _flat(a: dict, prefix: str = "") -> list[dict]:
    rows = []
    for k, v in a.items():
        if isinstance(v, dict):
            rows += _flat(v, f"{prefix}{k}.")
        else:
            rows.append({"key": prefix + k, "value": ";".join(map(str, v)) if isinstance(v, list) else v})
    return rows


# --------------------------------------------------------------------------- report


#: The travel models in words for people (Chinese · English).
TRAVEL_WORDS = {"straight": "直线距离估算 · straight-line estimate",
                "land": "陆路最短路径 · over land (never across the sea)",
                "network": "沿道路步行/骑行路线 · along the roads (OpenStreetMap)"}


def travel_text(travel: Mapping[str, Any]) -> str:
    """The travel model of an answer (its ``travel`` object) in one line for people: the model in words, then
    its own rule and the OpenStreetMap attribution where it has one."""
    parts = [TRAVEL_WORDS.get(travel.get("model"), str(travel.get("model")))]
    if travel.get("rule"):
        parts.append(str(travel["rule"]))
    osm = travel.get("osm") or {}
    if isinstance(osm, Mapping) and osm.get("attribution"):
        parts.append(str(osm["attribution"]))
    return "; ".join(parts)


TITLE = "青岛职工服务设施覆盖与选址报告 · Coverage and new-site report"


def report_title(city: str | None = None) -> str:
    """The report's title for the city (adcode: ``assumptions.city``) it is of: :data:`TITLE` for Qingdao or none,
    else naming the city (``geo.kml.city_title``)."""
    from geo.kml import city_title

    return city_title(TITLE, city, "{zh}职工服务设施覆盖与选址报告 · ", "{en}: coverage and new-site report",
                      "Coverage and new-site report")

#: Columns shown right-aligned as numbers.
NUMERIC = frozenset({"cells", "area_covered_pct", "residents_covered_pct", "workers_covered_pct", "uncovered_workers",
                     "uncovered_residents", "open_facilities", "marginal_gain", "cumulative_covered",
                     "cumulative_pct", "area_km2", "workers_served", "residents_served", "rank"})
MAP_LABELS = {"grid": "覆盖网格 coverage grid", "districts": "区界 districts", "gaps": "未覆盖区域 uncovered areas",
              "facilities": "现有设施 facilities", "sites": "建议新址 proposed sites",
              "uncovered_workers": "未覆盖户外劳动者 uncovered workers",
              "uncovered_residents": "未覆盖居民 uncovered residents",
              "workers_served": "服务户外劳动者 workers served",
              "gain": "新增覆盖 gain", "cumulative": "累计覆盖 cumulative"}
_PCT_COLUMNS = [("name", "区 district"), ("cells", "网格 cells"), ("area_covered_pct", "面积覆盖 % area"),
                ("residents_covered_pct", "居民覆盖 % residents"), ("workers_covered_pct", "户外劳动者覆盖 % workers"),
                ("uncovered_workers", "未覆盖户外劳动者 uncovered workers"),
                ("uncovered_residents", "未覆盖居民 uncovered residents")]


@dataclass(frozen=True)
class Table:
    """A table of the report: a title, (key, label) columns, rows of dicts, an optional paragraph before it."""

    key: str
    title: str
    columns: list[tuple[str, str]]
    rows: list[dict]
    note: str = ""

    def numeric(self, column: str) -> bool:
        return column in NUMERIC


@dataclass(eq=False)
class ReportData:
    """Everything the planner report shows, computed once: figures, tables, map layers, files."""

    options: PlannerOptions
    coverage: Coverage
    plan: Plan | None
    gaps: list[Gap]
    hours: list[dict]
    overlay: Overlay
    served: list[dict]
    assumptions: dict
    day: date
    scope: str
    sample: bool
    demand_source: str
    districts_fc: dict
    spots: HotSpots | None = None  # how ``gaps`` were made, and the demand below their floor

    @property
    def city(self) -> dict:
        return self.coverage.city_row()

    @property
    def district_rows(self) -> list[dict]:
        return self.coverage.district_table(self.options.district)

    @property
    def gaps_fc(self) -> dict:
        if self.spots is None:
            return gaps_feature_collection(self.gaps, assumptions=self.assumptions, demand_source=self.demand_source)
        return _gaps_fc(self.spots, self.assumptions, self.demand_source)

    @property
    def sites_fc(self) -> dict:
        return sites_feature_collection(self.plan, assumptions=self.assumptions, demand_source=self.demand_source)

    @property
    def title(self) -> str:
        """The report's title: Qingdao's (:data:`TITLE`), or naming the city it is of (:func:`report_title`)."""
        return report_title(self.assumptions.get("city"))

    @property
    def unit(self) -> str:
        return "户外劳动者 workers" if self.options.demand == "workers" else "居民 residents"

    def legend(self) -> list[dict]:
        return legend(self.coverage.radius_m)

    @property
    def travel_text(self) -> str:
        """The travel model the report's figures rest on, in words (``travel_text``)."""
        return travel_text(self.assumptions["travel"])

    def assumption_items(self) -> list[tuple[str, Any]]:
        """The assumptions as (label, value) pairs for people."""
        a, f = self.assumptions, self.assumptions["filter"]
        return [("阈值 threshold", self.options.threshold.label), ("出行模型 travel", travel_text(a["travel"])),
                ("threshold_m", a["threshold_m"]),
                ("mode", a["mode"]), ("minutes", a["minutes"]), ("walk_kmh", a["walk_kmh"]),
                ("ebike_kmh", a["ebike_kmh"]), ("detour_factor", a["detour_factor"]), ("edge rule", a["edge_rule"]),
                ("distance", a["distance"]), ("cell_m", a["cell_m"]), ("demand source", a["demand_source"]),
                ("facilities counted", a["eligible_facilities"]), ("kind", f["kind"]),
                ("amenity", ", ".join(f["amenity"]) or "–"), ("worker", f["worker"]), ("open_at", f["open_at"]),
                ("open_24h", f["open_24h"]), ("include_closed", f["include_closed"]),
                ("include_unknown_hours", f["include_unknown_hours"])]

    def tables(self) -> list[Table]:
        """The report's tables, in order."""
        out = [
            Table("districts", "分区覆盖 Coverage by district", _PCT_COLUMNS, [self.city, *self.district_rows]),
            Table("hours", f"24 小时覆盖 Coverage by hour ({self.day.isoformat()}, {self.scope})",
                  [("hour", "时 hour"), ("open_facilities", "开放设施 open"), ("area_covered_pct", "面积 % area"),
                   ("residents_covered_pct", "居民 % residents"), ("workers_covered_pct", "户外劳动者 % workers"),
                   ("uncovered_workers", "未覆盖 uncovered workers")], self.hours),
            Table("gaps", f"未覆盖热点 Uncovered hot spots (by uncovered {self.unit})",
                  [("rank", "#"), ("district", "区 district"), ("place", "附近 near"), ("area_km2", "km²"),
                   ("uncovered_workers", "未覆盖户外劳动者 workers"), ("uncovered_residents", "未覆盖居民 residents")],
                  [g.properties() for g in self.gaps], note=self._spots_note()),
        ]
        if self.spots is not None:
            out.append(Table("below_floor", "密度下限以下 Uncovered demand below the density floor (not drawn)",
                             [("district", "区 district"), ("cells", "网格 cells"), ("area_km2", "km²"),
                              ("uncovered_workers", "未覆盖户外劳动者 workers"),
                              ("uncovered_residents", "未覆盖居民 residents")], self.spots.below_floor))
        if self.plan is not None:
            p = self.plan
            out.append(Table(
                "sites", f"建议新址 Proposed new sites (+{len(p.sites)}, {self.unit})",
                [("rank", "#"), ("district", "区 district"), ("lon", "lon"), ("lat", "lat"),
                 ("marginal_gain", "新增覆盖 gain"), ("cumulative_covered", "累计 cumulative"),
                 ("cumulative_pct", "累计 %")],
                p.sites, note=f"现状覆盖 covered today: {p.covered_before:,.1f} / {p.total_demand:,.1f}; "
                              f"新增 added: {p.added_gain:,.1f}. {' '.join(p.notes)}"))
        out.append(Table("facilities", "设施服务量 Demand served per facility (top 30)",
                         [("name", "名称 name"), ("kind", "类型 kind"), ("district", "区 district"),
                          ("workers_served", "户外劳动者 workers"), ("residents_served", "居民 residents")],
                         self.served[:30]))
        return out

    def _spots_note(self) -> str:
        if self.spots is None:
            return ""
        s, m = self.spots.summary(), self.spots
        return (f"热点 hot spots: uncovered cells with ≥ {m.min_density_km2:g} {m.demand} per km², no area over "
                f"{m.max_area_km2:g} km²; {s['areas']} areas hold {s['in_areas_pct']} % of the uncovered {m.demand}, "
                f"the {s['listed']} listed {s['in_listed_pct']} %. 附近 near: the nearest township or town in the "
                "district.")

    def map_layers(self) -> dict[str, Any]:
        """The map's layers as GeoJSON (WGS84) and the coverage image's file and bounds."""
        b = self.overlay.bounds
        facilities = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [f["lon"], f["lat"]]},
             "properties": {k: f[k] for k in ("name", "kind", "district", "workers_served")}} for f in self.served]}
        sites = self.sites_fc
        return {"grid": {"png": "coverage.png", "bounds": [list(b[0]), list(b[1])]},
                "districts": self.districts_fc, "gaps": self.gaps_fc, "facilities": facilities,
                "sites": {"type": "FeatureCollection", "features": [
                    {**f, "properties": {k: v for k, v in f["properties"].items()
                                         if k in ("rank", "district", "marginal_gain", "cumulative_pct")}}
                    for f in sites["features"]]},
                "labels": MAP_LABELS}

    def readme(self) -> str:
        a = self.assumptions
        return (f"{self.title}\n\nOpen index.html in a browser (keep the other files and the vendor folder next to "
                "it).\n"
                f"Threshold: {self.options.threshold.label}; detour factor {a['detour_factor']}; walk {a['walk_kmh']} "
                f"km/h; e-bike {a['ebike_kmh']} km/h.\nTravel: {travel_text(a['travel'])}.\n"
                f"Demand: {self.demand_source}"
                f"{' (modelled, not observed)' if self.demand_source == 'modelled' else ''}.\n"
                f"{'SAMPLE registry: generated facilities, not real ones.' if self.sample else ''}\n"
                f"Classes of coverage.png: {', '.join(c[1] for c in CLASSES[1:])}.\n")

    def files(self) -> dict[str, bytes]:
        """The report's data files by name (the HTML page and its assets are added by ``web.report``)."""
        plan = self.plan
        return {
            "coverage.png": self.overlay.png,
            "districts.csv": csv_bytes([self.city, *self.district_rows]),
            "hours.csv": csv_bytes(self.hours),
            "gaps.csv": csv_bytes([g.properties() for g in self.gaps], GAP_COLUMNS),
            "gaps.geojson": json.dumps(self.gaps_fc, ensure_ascii=False).encode("utf-8"),
            "sites.csv": csv_bytes(plan.sites if plan else [], SITE_COLUMNS),
            "curve.csv": csv_bytes(plan.curve if plan else [], ["sites", "gain", "covered", "pct"]),
            "sites.geojson": json.dumps(self.sites_fc, ensure_ascii=False).encode("utf-8"),
            "facilities.csv": csv_bytes(self.served),
            "assumptions.csv": csv_bytes(_flat(self.assumptions), ["key", "value"]),
            "assumptions.json": json.dumps(self.assumptions, ensure_ascii=False, indent=1).encode("utf-8"),
            "README.txt": self.readme().encode("utf-8"),
        }


def report(data: PlannerData, opts: PlannerOptions) -> ReportData:
    """Coverage, the 24-hour table, the largest uncovered areas and (``opts.add`` > 0) the plan — the same
    computations as the API's endpoints for the same options — gathered for the planner report."""
    from geo.export import districts_feature_collection

    cov = coverage(data, opts)
    day = opts.report_day()
    hours = _hour_rows(data, opts, day)
    spots = _hot_spots(data, opts)
    a = {**cov.assumptions(), **scope_of(data, opts.district), "report_date": day.isoformat(),
         "generated_at": now_local().isoformat(timespec="minutes") + "+08:00", "sample_registry": data.sample}
    plan = None
    if opts.add > 0:
        plan = run_plan(data, opts)
        a["plan"] = {**{k: v for k, v in _plan_assumptions(opts, plan).items()
                        if k in ("add", "demand", "min_spacing_m", "method", "candidates")},
                     "placed": len(plan.sites), "notes": plan.notes}
    table = cov.district_table(opts.district)
    scope = f"{data.prepared.scope[1]} city" if opts.district is None else table[0]["name"]
    served = sorted(cov.facility_table(), key=lambda r: -r["workers_served"])
    frame = data.districts.frame
    districts_fc = data.cached(("district-outlines",), lambda: districts_feature_collection(frame))
    return ReportData(opts, cov, plan, spots.areas, hours, coverage_grid(data, opts), served, a, day, scope,
                      data.sample, data.prepared.source, districts_fc, spots)

