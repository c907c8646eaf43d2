"""/api/v1/coverage, /gaps, /plan, /whatif, /report.zip: coverage gaps and new-site planning for planners.

Views parse and validate, call one ``geo`` function (through the per-registry-version cache), and
serialise. Shared query parameters (all optional):

``mode`` walk|ebike (default walk) · ``minutes`` (default 15) or ``threshold_m`` (not both) ·
``kind`` (default station; comma list; ``any`` = every kind) · ``amenity`` (all of, comma list) ·
``worker`` outdoor_worker|member|employee · ``open_at`` ISO date-time|now|any (default any) ·
``open_24h`` (only 24/7 facilities) · ``include_closed`` · ``district`` (adcode or name) ·
``detour_factor``, ``walk_kmh``, ``ebike_kmh``.

Every response states the demand source and the assumptions. Bad parameters → 400 in the one
error shape naming parameter, value and what is allowed; a plan that cannot be made (exact solve
too large, infeasible) → 422 saying why.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from flask import Blueprint, Response, jsonify, request, url_for

from geo.coverage import (
    DEMANDS,
    MODES,
    Coverage,
    FacilityFilter,
    Threshold,
    assumptions,
    compute_coverage,
    hourly_coverage,
    whatif,
)
from geo.gaps import gaps_feature_collection, uncovered_areas
from geo.hours import now_local
from geo.model import AMENITIES, KINDS, WORKER_TYPES, in_city_bounds
from geo.overlay import coverage_overlay, legend, overlay_bounds
from geo.siting import MAX_ADD, METHODS, plan_sites
from web import params, state
from web.errors import ApiError, bad_param
from web.nearest_api import body_args, travel_options

bp = Blueprint("coverage", __name__, url_prefix="/api/v1")

COMMON = ("mode", "minutes", "threshold_m", "kind", "amenity", "worker", "open_at", "open_24h", "include_closed",
          "district", "detour_factor", "walk_kmh", "ebike_kmh")
PLAN_PARAMS = ("add", "demand", "min_spacing_m", "exclude", "candidates", "method")
MAX_GAPS = 1000
MAX_CANDIDATES = 20_000
MAX_WHATIF_SITES = 500
EXACT_TIME_LIMIT_S = 30.0


# --------------------------------------------------------------------------- parsing


def _threshold(args) -> Threshold:
    travel = travel_options(args, state().travel)
    mode = params.choice(args, "mode", MODES, "walk")
    has_m = params.text(args, "threshold_m") is not None
    if has_m and params.text(args, "minutes") is not None:
        raise bad_param("threshold_m", args.get("threshold_m"), "given alone: pass minutes (with mode) or "
                        "threshold_m, not both")
    if has_m:
        return Threshold.metres(float(params.number(args, "threshold_m", lo=1, hi=100_000)), travel)
    return Threshold.minutes_by(float(params.number(args, "minutes", 15, lo=1, hi=120)), mode, travel)


def _facility_filter(args) -> FacilityFilter:
    kinds = params.choices(args, "kind", [*KINDS, "any"])
    if "any" in kinds:
        kinds = []
    elif not kinds:
        kinds = ["station"]
    when = params.open_at(args) if params.text(args, "open_at", max_len=40) is not None else None  # default: any
    when = now_local() if when == "now" else when
    return FacilityFilter(kinds=tuple(kinds), amenities=tuple(params.choices(args, "amenity", AMENITIES)),
                          worker=params.choice(args, "worker", WORKER_TYPES), open_at=when,
                          include_closed=params.boolean(args, "include_closed", False),
                          open_24h=params.boolean(args, "open_24h", False))


def _district(args) -> str | None:
    district = params.text(args, "district")
    if district is not None:
        code = state().demand.district_code(district)  # raises ParameterError if unknown: a 400 (web.errors)
        return None if code is None else state().demand.adcodes[code]
    return None


def _common(args) -> tuple[Threshold, FacilityFilter, str | None]:
    return _threshold(args), _facility_filter(args), _district(args)


def _query_args(extra: tuple[str, ...] = ()) -> params.QueryArgs:
    args = params.QueryArgs.from_request()
    params.reject_unknown(args, COMMON + extra)
    return args


# --------------------------------------------------------------------------- cached computations


def coverage_for(threshold: Threshold, facility_filter: FacilityFilter) -> Coverage:
    """The coverage for these parameters, computed once per registry version (``planner_cache`` is
    per version: a new one when the registry changes)."""
    st = state()
    return st.planner_cache.get_or_compute(
        ("coverage", threshold, facility_filter),
        lambda: compute_coverage(st.demand, st.index, threshold, facility_filter=facility_filter))


def _meta(cov: Coverage, district: str | None) -> dict[str, Any]:
    st = state()
    return {"assumptions": {**cov.assumptions(), "district": district}, "demand_source": cov.prepared.source,
            "sample": st.registry.is_sample}


def _grid_url(endpoint: str) -> str:
    query = request.query_string.decode("ascii", "replace")
    return url_for(endpoint) + (f"?{query}" if query else "")


# --------------------------------------------------------------------------- views


@bp.get("/coverage")
def coverage():
    """Coverage by district and for the city, with the grid overlay's URL and bounds."""
    threshold, ffilter, district = _common(_query_args())
    cov = coverage_for(threshold, ffilter)
    st = state()
    mask = st.demand.cell_mask(district)
    bounds = st.planner_cache.get_or_compute(
        ("bounds", district), lambda: overlay_bounds(st.demand, None if mask is None else np.flatnonzero(mask)))
    return {
        **_meta(cov, district),
        "city": cov.city_row(),
        "districts": cov.district_table(district),
        "grid": {"png": _grid_url("coverage.coverage_png"), "bounds": [list(bounds[0]), list(bounds[1])],
                 "cell_m": st.demand.cell_m, "legend": legend(cov.radius_m)},
    }


@bp.get("/coverage/grid.png")
def coverage_png():
    """The coverage grid as a PNG for ``L.imageOverlay(png, bounds)`` (bounds as in /coverage)."""
    threshold, ffilter, district = _common(_query_args())
    cov = coverage_for(threshold, ffilter)
    overlay = state().planner_cache.get_or_compute(("png", threshold, ffilter, district),
                                                   lambda: coverage_overlay(cov, district=district))
    resp = Response(overlay.png, mimetype="image/png")
    resp.headers["Cache-Control"] = "public, max-age=60"
    s, w = overlay.bounds[0]
    n, e = overlay.bounds[1]
    resp.headers["X-Overlay-Bounds"] = f"{s},{w},{n},{e}"
    return resp


@bp.get("/coverage/hours")
def coverage_hours():
    """Coverage at each of the 24 hours of ``date`` (default: the date of open_at, else today, Qingdao)."""
    args = _query_args(("date",))
    threshold, ffilter, district = _common(args)
    raw_day = params.text(args, "date", max_len=10)
    if raw_day is not None:
        try:
            day = date.fromisoformat(raw_day)
        except ValueError:
            raise bad_param("date", raw_day, "a date such as 2026-11-24") from None
    else:
        day = ffilter.open_at.date() if ffilter.open_at is not None else now_local().date()
    st = state()
    rows = st.planner_cache.get_or_compute(
        ("hours", threshold, ffilter.at(None), district, day),
        lambda: hourly_coverage(st.demand, st.index, threshold, ffilter.at(None), day=day, district=district))
    meta = {"assumptions": {**assumptions(threshold, st.demand, ffilter.at(None)), "district": district},
            "demand_source": st.demand.source, "sample": st.registry.is_sample}
    meta["assumptions"]["filter"]["open_at"] = "each full hour of the date"
    return {**meta, "date": day.isoformat(), "scope": rows[0]["name"] if rows else None, "hours": rows}


@bp.get("/coverage/facilities")
def coverage_facilities():
    """Demand served per facility: cells for which it is the nearest, and the demand among them in reach."""
    threshold, ffilter, district = _common(_query_args())
    cov = coverage_for(threshold, ffilter)
    rows = cov.facility_table()
    if district is not None:
        name = state().demand.names[state().demand.adcodes.index(district)]
        rows = [r for r in rows if r["district"] == name]
    return {**_meta(cov, district), "count": len(rows), "facilities": rows}


def uncovered_collection(args) -> dict:
    """The uncovered areas for ``args`` (the coverage parameters, ``limit``, ``demand``) as GeoJSON; cached."""
    threshold, ffilter, district = _common(args)
    limit = int(params.number(args, "limit", 20, lo=1, hi=MAX_GAPS, integer=True))
    rank_by = params.choice(args, "demand", DEMANDS, "workers")
    cov = coverage_for(threshold, ffilter)
    return state().planner_cache.get_or_compute(
        ("gaps", threshold, ffilter, district, limit, rank_by),
        lambda: gaps_feature_collection(uncovered_areas(cov, district=district, limit=limit, rank_by=rank_by),
                                        assumptions={**cov.assumptions(), "district": district,
                                                     "ranked_by": f"uncovered {rank_by}"},
                                        demand_source=cov.prepared.source))


@bp.get("/gaps")
def gaps():
    """Uncovered areas as GeoJSON polygons (WGS84), largest uncovered demand first."""
    resp = jsonify(uncovered_collection(_query_args(("limit", "demand"))))
    resp.mimetype = "application/geo+json"
    return resp


def _exclusion(raw) -> Any:
    """A GeoJSON geometry, Feature or FeatureCollection (WGS84 polygons) -> one shapely geometry."""
    import shapely
    from shapely.geometry import shape

    allowed = "a GeoJSON Polygon or MultiPolygon (WGS84), or a Feature or FeatureCollection of them"
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad_param("exclude", str(raw)[:60], allowed)
    kind = raw.get("type")
    if kind == "FeatureCollection":
        features = raw.get("features") or []
        if not isinstance(features, list):
            raise bad_param("exclude", str(raw)[:60], allowed)
        geoms = [f.get("geometry") if isinstance(f, dict) else None for f in features]
    elif kind == "Feature":
        geoms = [raw.get("geometry")]
    else:
        geoms = [raw]
    parts = []
    for g in geoms:
        if not isinstance(g, dict) or g.get("type") not in ("Polygon", "MultiPolygon"):
            raise bad_param("exclude", str(g)[:60], allowed)
        try:
            geom = shape(g)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            raise bad_param("exclude", str(g)[:60], allowed) from None
        lon0, lat0, lon1, lat1 = geom.bounds
        if not (in_city_bounds(lon0, lat0) and in_city_bounds(lon1, lat1)):
            raise bad_param("exclude", str(g)[:60], "polygons in WGS84 lon/lat inside Qingdao")
        parts.append(shapely.make_valid(geom))
    return shapely.union_all(parts) if parts else None


def _points(raw, name: str, limit: int, *, on_land: bool) -> np.ndarray:
    arr = params.lonlat_pairs(raw, name, limit)
    if on_land:
        where = state().districts.locate(arr[:, 0], arr[:, 1])
        off = np.flatnonzero(where == "")
        if len(off):
            i = int(off[0])
            raise bad_param(f"{name}[{i}]", raw[i], "a point on land inside a Qingdao district")
    return arr


@bp.post("/plan")
def plan():
    """Where to add ``add`` sites (existing ones kept) to cover the most uncovered demand."""
    body = params.json_object(COMMON + PLAN_PARAMS, '{"add": 20, "mode": "walk", "minutes": 15}')
    args = body_args(body, skip=("exclude", "candidates"))
    threshold, ffilter, district = _common(args)
    add = int(params.number(args, "add", 20, lo=1, hi=MAX_ADD, integer=True))
    demand = params.choice(args, "demand", DEMANDS, "workers")
    spacing = float(params.number(args, "min_spacing_m", 0.0, lo=0, hi=50_000))
    method = params.choice(args, "method", METHODS, "greedy")
    exclude = _exclusion(body.get("exclude"))
    candidates = None if body.get("candidates") is None else _points(body["candidates"], "candidates",
                                                                      MAX_CANDIDATES, on_land=True)
    cov = coverage_for(threshold, ffilter)
    key = ("plan", threshold, ffilter, district, add, demand, spacing, method,
               None if exclude is None else exclude.wkb, None if candidates is None else candidates.tobytes())
    result = state().planner_cache.get_or_compute(key, lambda: plan_sites(
        cov, add=add, demand=demand, min_spacing_m=spacing, exclude=exclude, candidates=candidates, district=district,
        method=method, time_limit_s=EXACT_TIME_LIMIT_S))
    out = result.as_dict()
    meta = _meta(cov, district)
    meta["assumptions"].update(add=add, demand=demand, min_spacing_m=spacing, method=method,
                               candidates="listed" if candidates is not None else "land cells of the demand grid",
                               candidate_count=result.candidates, excluded_area=exclude is not None,
                               improvement="1-swap + randomised restarts" if method == "greedy" else None)
    return {"sites": out["sites"], "curve": out["curve"], **meta, "total_demand": out["total_demand"],
            "covered_before": out["covered_before"], "added_gain": out["added_gain"], "notes": out["notes"],
            "exact": out["exact"]}


def _ids(raw, name: str) -> list[str]:
    if raw is None or raw == "":
        return []
    values = raw if isinstance(raw, list) else str(raw).split(",")
    ids = [str(v).strip() for v in values if str(v).strip()]
    if len(ids) > MAX_WHATIF_SITES:
        raise bad_param(name, f"{len(ids)} ids", f"at most {MAX_WHATIF_SITES} facility ids")
    return ids


def _add_points(raw) -> list[tuple[float, float]]:
    if raw is None or raw == "" or raw == []:
        return []
    if isinstance(raw, str):
        pairs = []
        for part in (p for p in raw.split(";") if p.strip()):
            bits = part.split(",")
            if len(bits) != 2:
                raise bad_param("add", part, "lon,lat pairs separated by ';', e.g. 120.38,36.07;120.41,36.10")
            pairs.append(bits)
        raw = pairs
    try:
        arr = np.array(raw, dtype="float64").reshape(-1, 2)
    except (TypeError, ValueError):
        raise bad_param("add", str(raw)[:60], "lon,lat pairs separated by ';' (GET) or [[lon, lat], ...] "
                        "(POST)") from None
    if len(arr) > MAX_WHATIF_SITES:
        raise bad_param("add", f"{len(arr)} points", f"at most {MAX_WHATIF_SITES} points")
    pts = _points(arr.tolist(), "add", MAX_WHATIF_SITES, on_land=True)
    return [(float(a), float(b)) for a, b in pts]


@bp.route("/whatif", methods=["GET", "POST"])
def whatif_view():
    """Coverage with sites added / removed / closed, side by side with today."""
    if request.method == "POST":
        body = params.json_object(COMMON + ("add", "remove", "close"),
                                  '{"add": [[120.38, 36.07]], "remove": ["id"]}')
        args = body_args(body, skip=("add", "remove", "close"))
        raw = body
    else:
        args = _query_args(("add", "remove", "close"))
        raw = {k: args.get(k) for k in ("add", "remove", "close")}
    threshold, ffilter, district = _common(args)
    add = _add_points(raw.get("add"))
    remove, close = _ids(raw.get("remove"), "remove"), _ids(raw.get("close"), "close")
    if not (add or remove or close):
        raise ApiError(400, "give at least one of add (lon,lat;…), remove (ids) or close (ids)",
                       code="missing_parameter", parameter="add")
    st = state()
    today = coverage_for(threshold, ffilter)
    result = st.planner_cache.get_or_compute(
        ("whatif", threshold, ffilter, tuple(add), tuple(remove), tuple(close)),
        lambda: whatif(st.demand, st.index, threshold, ffilter, add=add, remove=remove, close=close, today=today))
    return {**_meta(today, district),
            "scenario": {"added": result.added, "removed": result.removed, "closed": result.closed,
                         "notes": result.notes, "eligible_today": today.eligible,
                         "eligible_scenario": result.scenario.eligible},
            "rows": result.table(district)}


@bp.get("/report.zip")
def report_zip():
    """The planner report (map, tables, CSVs) as a zip; the same builder as ``workermap report``."""
    from web.report import write_report

    args = _query_args(("add", "demand", "min_spacing_m", "limit", "date"))
    threshold, ffilter, district = _common(args)
    add = int(params.number(args, "add", 20, lo=0, hi=MAX_ADD, integer=True))
    demand = params.choice(args, "demand", DEMANDS, "workers")
    spacing = float(params.number(args, "min_spacing_m", 0.0, lo=0, hi=50_000))
    limit = int(params.number(args, "limit", 50, lo=1, hi=MAX_GAPS, integer=True))
    raw_day = params.text(args, "date", max_len=10)
    try:
        day = date.fromisoformat(raw_day) if raw_day else None
    except ValueError:
        raise bad_param("date", raw_day, "a date such as 2026-11-24") from None
    st = state()
    cov = coverage_for(threshold, ffilter)

    def build() -> bytes:
        with tempfile.TemporaryDirectory(prefix="workermap-report-") as tmp:
            out = Path(tmp) / "report"
            write_report(out, prepared=st.demand, index=st.index, threshold=threshold, facility_filter=ffilter,
                         districts=st.districts, sample=st.registry.is_sample, add=add, demand=demand,
                         min_spacing_m=spacing, gaps_limit=limit, district=district, day=day, coverage=cov)
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for path in sorted(out.rglob("*")):
                    if path.is_file():
                        zf.write(path, Path("workermap-report") / path.relative_to(out))
            return buf.getvalue()

    data = st.planner_cache.get_or_compute(("report", threshold, ffilter, district, add, demand, spacing, limit,
                                                day), build)
    stamp = now_local().strftime("%Y%m%d")
    resp = Response(data, mimetype="application/zip")
    resp.headers["Content-Disposition"] = f'attachment; filename="workermap-report-{stamp}.zip"'
    return resp
