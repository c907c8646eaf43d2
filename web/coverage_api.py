"""/api/v1/coverage, /gaps, /plan, /whatif, /report.zip: coverage gaps and new-site planning for planners.

Each view parses its request with the declarations of :mod:`geo.planner_params` into one
:class:`geo.planner.PlannerOptions`, calls one :mod:`geo.planner` function (through the per-registry-version
cache) and serialises what it returns; ``workermap gaps|plan|whatif|report`` call the same functions. Shared
query parameters (all optional; :data:`geo.planner_params.COVERAGE`):

``mode`` walk|ebike (default walk) · ``minutes`` (default 15) or ``threshold_m`` (not both) ·
``kind`` (default station; comma list; ``any`` = every kind) · ``amenity`` (all of, comma list) ·
``worker`` outdoor_worker|member|employee · ``open_at`` ISO date-time|now|any (default any) ·
``open_24h`` (only 24/7 facilities) · ``include_closed`` · ``district`` (adcode or name) ·
``detour_factor``, ``walk_kmh``, ``ebike_kmh`` · ``travel`` straight|land|network (every answer states it:
``assumptions.travel``; network without an imported extract is a 400 naming travel) · ``city``: the
prefecture-level city (adcode or name) the figures are for — required where the region served is a province or
the nation (``geo.city_planner``: its data built on request, once per city and registry version), else optional
and the region itself; every answer says it (``assumptions.city``).

The report takes the plan's parameters (GET: all but ``exclude`` and ``candidates``, which need the POST
body), so the planner page's report shows the plan it shows. Every response states the demand source and
the assumptions. Bad parameters → 400 in the one error shape naming parameter, value and what is allowed;
a plan that cannot be made (exact solve too large, infeasible) → 422 saying why.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path

from flask import Blueprint, Response, jsonify, request, url_for

from geo import city_planner, planner
from geo.hours import now_local
from geo.params import Params
from geo.planner_params import (
    COVERAGE,
    GAPS,
    HOURS,
    PLAN,
    REPORT,
    REPORT_QUERY,
    WHATIF,
    WHATIF_QUERY,
)
from web import params, state
from web.nearest_api import body_args

bp = Blueprint("coverage", __name__, url_prefix="/api/v1")

__all__ = ["bp", "planner_data", "uncovered_collection"]


# --------------------------------------------------------------------------- parsing


def planner_data(args=None) -> planner.PlannerData:
    """This request's registry version as the planner's data for the city ``args`` name (``city``; the region
    served where it is a city), its results cached per version (``geo.city_planner.planner_data``)."""
    return city_planner.planner_data(state(), args if args is not None else params.QueryArgs.from_request())


def _query(params_: Params) -> tuple[planner.PlannerData, planner.PlannerOptions]:
    """The data and options of this request's query string (unknown parameters refused)."""
    args = params.QueryArgs.from_request()
    params_.reject_unknown(args)
    data = planner_data(args)
    return data, planner.options(data, params_, args)


def _body(params_: Params, example: str) -> tuple[planner.PlannerData, planner.PlannerOptions]:
    """The options of this request's JSON body: options as in a query string, structured members as they are."""
    body = params.json_object(params_.names, example)
    structured = tuple(p.name for p in params_ if p.type == "json")
    args = body_args(body, skip=structured)
    for name in structured:
        if body.get(name) is not None:
            args[name] = [body[name]]
    data = planner_data(args)
    return data, planner.options(data, params_, args, check_unknown=False)


def _grid_url(endpoint: str) -> str:
    query = request.query_string.decode("ascii", "replace")
    return url_for(endpoint) + (f"?{query}" if query else "")


# --------------------------------------------------------------------------- views


@bp.get("/coverage")
def coverage():
    """Coverage by district and for the city, with the grid overlay's URL and bounds."""
    out = planner.coverage_summary(*_query(COVERAGE))
    out["grid"] = {"png": _grid_url("coverage.coverage_png"), **out["grid"]}
    return out


@bp.get("/coverage/grid.png")
def coverage_png():
    """The coverage grid as a PNG for ``L.imageOverlay(png, bounds)`` (bounds as in /coverage)."""
    overlay = planner.coverage_grid(*_query(COVERAGE))
    resp = Response(overlay.png, mimetype="image/png")
    resp.headers["Cache-Control"] = "public, max-age=60"
    s, w = overlay.bounds[0]
    n, e = overlay.bounds[1]
    resp.headers["X-Overlay-Bounds"] = f"{s},{w},{n},{e}"
    return resp


@bp.get("/coverage/hours")
def coverage_hours():
    """Coverage at each of the 24 hours of ``date`` (default: the date of open_at, else today, Qingdao)."""
    return planner.coverage_hours(*_query(HOURS))


@bp.get("/coverage/facilities")
def coverage_facilities():
    """Demand served per facility: cells for which it is the nearest, and the demand among them in reach."""
    return planner.facilities_served(*_query(COVERAGE))


def uncovered_collection(args) -> dict:
    """The uncovered areas for ``args`` (the /gaps parameters; the caller refused unknown ones) as GeoJSON."""
    data = planner_data(args)
    return planner.gaps(data, planner.options(data, GAPS, args, check_unknown=False))


@bp.get("/gaps")
def gaps():
    """Uncovered areas as GeoJSON polygons (WGS84), largest uncovered demand first."""
    resp = jsonify(planner.gaps(*_query(GAPS)))
    resp.mimetype = "application/geo+json"
    return resp


@bp.post("/plan")
def plan():
    """Where to add ``add`` sites (existing ones kept) to cover the most uncovered demand."""
    return planner.plan_payload(*_body(PLAN, '{"add": 20, "mode": "walk", "minutes": 15}'))


@bp.route("/whatif", methods=["GET", "POST"])
def whatif_view():
    """Coverage with sites added / removed / closed, side by side with today."""
    if request.method == "POST":
        return planner.whatif_payload(*_body(WHATIF, '{"add": [[120.38, 36.07]], "remove": ["id"]}'))
    return planner.whatif_payload(*_query(WHATIF_QUERY))


@bp.route("/report.zip", methods=["GET", "POST"])
def report_zip():
    """The planner report (map, tables, CSVs) as a zip: the plan of POST /plan for the same parameters (GET:
    all but exclude and candidates; POST: the /plan body with ``limit`` and ``date``); the same builder as
    ``workermap report``."""
    from web.report import write_report

    if request.method == "POST":
        data, opts = _body(REPORT, '{"add": 20, "mode": "walk", "minutes": 15, "limit": 50}')
    else:
        data, opts = _query(REPORT_QUERY)
    opts = replace(opts, day=opts.report_day())  # "today" fixed once: the cache key and the report agree

    def build() -> bytes:
        with tempfile.TemporaryDirectory(prefix="workermap-report-") as tmp:
            out = Path(tmp) / "report"
            write_report(out, data, opts)
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for path in sorted(out.rglob("*")):
                    if path.is_file():
                        zf.write(path, Path("workermap-report") / path.relative_to(out))
            return buf.getvalue()

    body = data.cached(("report", opts.key), build)
    stamp = now_local().strftime("%Y%m%d")
    resp = Response(body, mimetype="application/zip")
    resp.headers["Content-Disposition"] = f'attachment; filename="workermap-report-{stamp}.zip"'
    return resp
