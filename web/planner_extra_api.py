"""/api/v1/access, /access/grid.png, /usage, /recommendations: capacity-aware access, usage, recommendations.

Each view parses its query with the declarations of :mod:`geo.planner_params` (``ACCESS``, ``ACCESS_GRID``,
``USAGE``, ``RECOMMEND``), calls one function of :mod:`geo.access`, :mod:`geo.usage` or :mod:`geo.recommend`
(through the per-registry-version cache) and returns what it gives; ``workermap access``, ``usage show`` and
``recommend`` call the same functions. Bad parameters are a 400 in the one error shape; a catchment that reaches
too many cells is a 422. In a province or the nation access, usage and recommendations answer for the ``city`` the
query names, as the coverage endpoints do (``web.coverage_api.planner_data``, ``geo.city_planner``).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, request, url_for

from geo import access, recommend, usage
from geo.planner_params import ACCESS, ACCESS_GRID, RECOMMEND, USAGE
from web import params, state
from web.coverage_api import planner_data

bp = Blueprint("planner_extra", __name__, url_prefix="/api/v1")

__all__ = ["bp"]


def _usage(data) -> usage.UsageData:
    st = state()
    return usage.current_usage(st.store, st.registry, st.settings.shipped_dir, data.cached)


@bp.get("/access")
def access_view():
    """E2SFCA access per district and for the city, the shortage areas, each facility's ratio, the grid's legend."""
    data = planner_data()
    opts = access.access_options(data, ACCESS, params.QueryArgs.from_request())
    o = opts.planner
    key = ("access-payload", o.threshold, o.facility_filter, o.demand, opts.decay, opts.max_demand_per_place,
           o.district, o.limit)
    out = dict(data.cached(key, lambda: access.access_payload(data, opts)))
    grid_query = urlencode([(k, v) for k, v in request.args.items(multi=True) if k != "limit"])  # no list there
    out["grid"] = {"png": url_for("planner_extra.access_png") + (f"?{grid_query}" if grid_query else ""),
                   **out["grid"]}
    return out


@bp.get("/access/grid.png")
def access_png():
    """Each cell's access class (demand per place against the shortage threshold) as a PNG map overlay."""
    data = planner_data()
    overlay = access.access_grid(data, access.access_options(data, ACCESS_GRID, params.QueryArgs.from_request()))
    resp = Response(overlay.png, mimetype="image/png")
    resp.headers["Cache-Control"] = "public, max-age=60"
    (s, w), (n, e) = overlay.bounds
    resp.headers["X-Overlay-Bounds"] = f"{s},{w},{n},{e}"
    return resp


@bp.get("/usage")
def usage_view():
    """Utilisation against capacity, busiest hours and night use, per facility, district and for the city."""
    data = planner_data()  # in a province or the nation: the city's facilities and counties
    flt = usage.usage_filter(data.districts, USAGE.parse(params.QueryArgs.from_request()), data.prepared.scope)
    rows = _usage(data)
    key = ("usage-payload", rows.source, rows.version, flt)
    return data.cached(key, lambda: usage.usage_payload(rows, data.index.facilities, data.districts, flt,
                                                        sample=data.sample, scope=data.prepared.scope))


@bp.get("/recommendations")
def recommendations_view():
    """What to do, where and why: 24-hour opening, merging or relocating under-used facilities, adding places."""
    data = planner_data()
    opts = recommend.recommend_options(data, RECOMMEND, params.QueryArgs.from_request())
    rows = _usage(data)
    o = opts.access.planner
    key = ("recommendations", rows.source, rows.version, o.threshold, o.facility_filter, o.demand, o.district,
           o.limit, opts.access.decay, opts.access.max_demand_per_place, opts.usage, opts.night_share, opts.underused)
    return data.cached(key, lambda: recommend.recommendations(data, opts, rows))
