"""Operations → planning: recommendations with their reasons, from usage (:mod:`geo.usage`) and capacity-aware
access (:mod:`geo.access`), for the facilities the coverage filters count (default: worker stations).

Rules (each recommendation says which figures triggered it, in English and Chinese)

``extend_24h``
    A facility not open round the clock whose visits between 22:00 and 06:00 are at least ``night_share`` of its
    visits (rows with hours) and at least :data:`MIN_NIGHT_VISITS_PER_DAY` a day, with no counted 24-hour facility
    within the threshold (straight line, as coverage measures it).
``merge`` / ``relocate``
    A facility with usage on at least :data:`MIN_DAYS` days whose utilisation (visits × 1 h ÷ capacity × opening
    hours) is below ``underused``. If a counted facility of the same kind lies within the threshold and would run
    at most :data:`MERGE_MAX_UTILISATION` with both facilities' visits: ``merge`` into the nearest such one.
    Otherwise ``relocate``: to the nearest listed shortage area of its district; if its district has none listed,
    move it where demand is or shorten its hours (``target`` null).
``add_places``
    Each listed E2SFCA shortage area (``limit``, most places needed first): add ``places_needed`` places at the
    facility whose places the area uses most.

Usage from the shipped synthetic sample (or any row marked 样例 = true) is said in ``usage.synthetic`` and in every
reason that rests on it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import shapely

from geo.access import Access, AccessOptions, ShortageArea, run_access, shortage
from geo.params import Params
from geo.planner import PlannerData, from_values
from geo.usage import VISIT_HOURS, UsageData, UsageFilter, describe_source, facility_usage, usage_assumptions

__all__ = ["ACTIONS", "MERGE_MAX_UTILISATION", "MIN_DAYS", "MIN_NIGHT_VISITS_PER_DAY", "RecommendOptions",
           "recommend_options", "recommendations"]

ACTIONS = ("extend_24h", "merge", "relocate", "add_places")
#: Least night visits a day (22:00–06:00) before a longer opening is worth it.
MIN_NIGHT_VISITS_PER_DAY = 1.0
#: Least days of usage before a facility is called under-used.
MIN_DAYS = 7
#: A merge must leave the receiving facility at most this utilisation.
MERGE_MAX_UTILISATION = 0.85


@dataclass(frozen=True)
class RecommendOptions:
    access: AccessOptions
    usage: UsageFilter
    night_share: float = 0.2
    underused: float = 0.05


def recommend_options(data: PlannerData, params: Params, args, *, check_unknown: bool = True) -> RecommendOptions:
    """Parse ``args`` with ``params`` (``geo.planner_params.RECOMMEND``)."""
    values = params.parse(args, check_unknown=check_unknown)
    acc = AccessOptions(from_values(data, values), values.get("decay") or "gaussian",
                        values.get("max_demand_per_place"))
    flt = UsageFilter(acc.planner.district, acc.planner.facility_filter.kinds, values.get("since"),
                      values.get("until"))
    return RecommendOptions(acc, flt, float(values["night_share"]), float(values["underused"]))


def _where(f) -> dict:
    return {"id": f.id, "name": f.name, "kind": f.kind, "district": f.district, "lon": round(f.lon, 6),
            "lat": round(f.lat, 6)}


def _km(metres: float) -> str:
    return f"{metres / 1000:.1f} km" if metres >= 1000 else f"{metres:.0f} m"


def _item(action: str, facility: dict | None, lon: float, lat: float, priority: float, figures: dict,
          reason: str, reason_zh: str, target: dict | None = None) -> dict:
    return {"action": action, "facility": facility, "lon": lon, "lat": lat, "target": target,
            "priority": round(float(priority), 2), "figures": figures, "reason": reason, "reason_zh": reason_zh}


def _nearest(x: np.ndarray, y: np.ndarray, k: int, among: np.ndarray) -> tuple[int | None, float]:
    """The position in ``among`` (indices into x, y) nearest to point k (itself excluded), and its distance."""
    among = among[among != k]
    if len(among) == 0:
        return None, float("inf")
    d = np.hypot(x[among] - x[k], y[among] - y[k])
    j = int(np.argmin(d))
    return int(among[j]), float(d[j])


def _extend_24h(data: PlannerData, opts: RecommendOptions, rows: list[dict], synthetic: str) -> list[dict]:
    o = opts.access.planner
    index, radius = data.index, o.threshold.radius_m
    pos = {f.id: i for i, f in enumerate(index.facilities)}
    round_clock = replace(o.facility_filter, open_24h=True, open_at=None).indices(index)
    out = []
    for r in rows:
        if r["open_24h"] or r["night_share"] is None or r["night_share"] < opts.night_share \
                or r["night_visits_per_day"] < MIN_NIGHT_VISITS_PER_DAY:
            continue
        k = pos[r["id"]]
        j, d = _nearest(index.x, index.y, k, round_clock)
        if d <= radius:
            continue
        f = index.facilities[k]
        near = "none is counted" if j is None else f"the nearest, {index.facilities[j].name}, is {_km(d)} away"
        near_zh = "无" if j is None else f"最近的{index.facilities[j].name}相距{_km(d)}"
        figures = {"night_share": r["night_share"], "night_visits_per_day": r["night_visits_per_day"],
                   "nearest_24h_m": None if j is None else round(d, 1), "threshold_m": round(radius, 1)}
        out.append(_item(
            "extend_24h", _where(f), r["lon"], r["lat"], r["night_visits_per_day"], figures,
            f"open round the clock: {100 * r['night_share']:.0f} % of its visits fall between 22:00 and 06:00 "
            f"({r['night_visits_per_day']:.1f} a night{synthetic}) and no 24-hour facility is within "
            f"{_km(radius)} ({near})",
            f"建议24小时开放：22:00–06:00 到访占{100 * r['night_share']:.0f}%（每晚{r['night_visits_per_day']:.1f}人次"
            f"{'，合成样例数据' if synthetic else ''}），{_km(radius)}内没有24小时设施（{near_zh}）",
            None if j is None else {**_where(index.facilities[j]), "distance_m": round(d, 1)}))
    return sorted(out, key=lambda i: -i["priority"])


def _underused(data: PlannerData, opts: RecommendOptions, rows: list[dict], areas: list[ShortageArea],
               synthetic: str) -> list[dict]:
    o = opts.access.planner
    index, radius = data.index, o.threshold.radius_m
    pos = {f.id: i for i, f in enumerate(index.facilities)}
    counted = o.facility_filter.indices(index)
    by_id = {r["id"]: r for r in rows}
    out = []
    for r in rows:
        u = r["utilisation"]
        if u is None or u >= opts.underused or r["days"] < MIN_DAYS:
            continue
        k = pos[r["id"]]
        f = index.facilities[k]
        same = counted[[index.facilities[i].kind == f.kind for i in counted]] if len(counted) else counted
        j, d = _nearest(index.x, index.y, k, same)
        other = None if j is None or d > radius else by_id.get(index.facilities[j].id)
        combined = None
        if other is not None and other["utilisation"] is not None and other["utilisation"] > 0:
            place_hours = other["visits"] * VISIT_HOURS / other["utilisation"]
            combined = (other["visits"] + r["visits"]) * VISIT_HOURS / place_hours
        spare = (r["capacity"] or 0) * (r["open_hours_per_day"] or 0) * (1 - u)
        figures = {"utilisation": u, "visits_per_day": r["visits_per_day"], "capacity": r["capacity"],
                   "days": r["days"], "spare_place_hours_per_day": round(spare, 1)}
        base = f"{100 * u:.0f} % of its place-hours are used ({r['visits_per_day']:.1f} visits a day for " \
               f"{r['capacity']} places over {r['days']} days{synthetic})"
        base_zh = f"座位小时利用率{100 * u:.0f}%（{r['days']}天日均{r['visits_per_day']:.1f}人次、" \
                  f"{r['capacity']}个座位{'，合成样例数据' if synthetic else ''}）"
        if combined is not None and combined <= MERGE_MAX_UTILISATION:
            g = index.facilities[j]
            figures.update(merge_distance_m=round(d, 1), merged_utilisation=round(combined, 4))
            out.append(_item(
                "merge", _where(f), r["lon"], r["lat"], spare, figures,
                f"merge into {g.name} ({_km(d)} away): {base}; together it would run at {100 * combined:.0f} %",
                f"建议并入{_km(d)}外的{g.name}：{base_zh}；合并后其利用率约{100 * combined:.0f}%",
                {**_where(g), "distance_m": round(d, 1)}))
            continue
        area = _relocation_area(areas, f)
        if area is None:
            out.append(_item("relocate", _where(f), r["lon"], r["lat"], spare, figures,
                             f"relocate or shorten its hours: {base}; no shortage area of its district is listed",
                             f"建议迁址或缩短开放时间：{base_zh}；本区市暂无列出的缺口区域"))
            continue
        figures.update(area_rank=area.rank, area_places_needed=area.places_needed)
        where = area.place or area.district
        out.append(_item(
            "relocate", _where(f), r["lon"], r["lat"], spare, figures,
            f"relocate to {where} (shortage area #{area.rank}, {area.demand_per_place} per place, "
            f"{area.places_needed} places needed): {base}",
            f"建议迁至{where}（缺口区域第{area.rank}名，每座位{area.demand_per_place}人，缺{area.places_needed}个座位）："
            f"{base_zh}",
            {"area_rank": area.rank, "district": area.district, "place": area.place, "lon": area.lon,
             "lat": area.lat}))
    return sorted(out, key=lambda i: (i["action"], -i["priority"]))


def _relocation_area(areas: list[ShortageArea], f) -> ShortageArea | None:
    """The nearest listed shortage area of ``f``'s district (None if it has none)."""
    mine = [a for a in areas if a.adcode == f.district_adcode]
    if not mine:
        return None
    return min(mine, key=lambda a: (shapely.distance(shapely.Point(f.lon, f.lat), a.geometry), a.rank))


def _add_places(acc: Access, areas: list[ShortageArea], threshold: float) -> list[dict]:
    out = []
    for a in areas:
        s = a.facility
        where = a.place or a.district
        figures = {"area_rank": a.rank, "demand": a.demand, "demand_per_place": a.demand_per_place,
                   "max_demand_per_place": threshold, "places_needed": a.places_needed, "area_km2": a.area_km2}
        at = "" if s is None else f" at {s['name']} ({_km(s['distance_m'])} away, {s['places']:.0f} places now)"
        at_zh = "" if s is None else f"（在{s['name']}增加，相距{_km(s['distance_m'])}，现有{s['places']:.0f}个座位）"
        out.append(_item(
            "add_places", None if s is None else {k: s[k] for k in ("id", "name", "kind", "lon", "lat")} |
            {"district": a.district}, a.lon, a.lat, a.places_needed, figures,
            f"add {a.places_needed} places for {where}{at}: {a.demand:,.0f} {acc.demand_name} there share one place "
            f"per {a.demand_per_place} (shortage above {threshold:g})",
            f"建议为{where}增加{a.places_needed}个座位{at_zh}：该区域{a.demand:,.0f}名"
            f"{'户外劳动者' if acc.demand_name == 'workers' else '居民'}每座位{a.demand_per_place}人"
            f"（缺口标准{threshold:g}）",
            {"area_rank": a.rank, "district": a.district, "place": a.place, "lon": a.lon, "lat": a.lat}))
    return out


def recommendations(data: PlannerData, opts: RecommendOptions, usage: UsageData) -> dict[str, Any]:
    """``GET /api/v1/recommendations``: what to do, where, and why; with every assumption it rests on."""
    acc = run_access(data, opts.access)
    threshold = opts.access.threshold_for(acc)
    areas = shortage(data, opts.access, acc)
    counted = {data.index.facilities[int(i)].id for i in acc.sites.idx}
    rows = [r for r in facility_usage(usage, data.index.facilities, opts.usage) if r["id"] in counted]
    synthetic = ", synthetic sample usage" if usage.synthetic_any else ""
    items = [*_extend_24h(data, opts, rows, synthetic), *_underused(data, opts, rows, areas, synthetic),
             *_add_places(acc, areas, threshold)]
    items = [{"rank": rank, **item} for rank, item in enumerate(items, start=1)]
    a = {**acc.assumptions(opts.access.max_demand_per_place), "district": opts.access.planner.district,
         "usage": usage_assumptions(opts.usage), "night_share": opts.night_share, "underused": opts.underused,
         "min_night_visits_per_day": MIN_NIGHT_VISITS_PER_DAY, "min_days": MIN_DAYS,
         "merge_max_utilisation": MERGE_MAX_UTILISATION}
    return {"assumptions": a, "demand_source": data.prepared.source, "sample": data.sample,
            "usage": describe_source(usage), "facilities_with_usage": len(rows),
            "counts": {action: sum(1 for i in items if i["action"] == action) for action in ACTIONS},
            "recommendations": items}
