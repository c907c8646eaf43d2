"""The planner report: a folder a planner can zip and mail round (``workermap report``, ``/api/v1/report.zip``).

Contents of ``DIR``::

    index.html            folium map (coverage grid, uncovered areas, proposed sites, facilities) + tables
    vendor/leaflet/       Leaflet copied from web/static/vendor: the page needs no CDN and no server
    coverage.png          the coverage grid overlay (also embedded in index.html)
    districts.csv         coverage per district and for the city
    hours.csv             coverage at each hour of the day (only facilities open then)
    gaps.csv, gaps.geojson         uncovered areas, ranked
    sites.csv, sites.geojson, curve.csv   proposed new sites, marginal gains, cumulative curve
    facilities.csv        demand served per facility
    assumptions.csv, assumptions.json     threshold, speeds, detour factor, filters, demand source
    README.txt

CSV files are UTF-8 with a byte-order mark (Excel opens them correctly) and CRLF line ends; text
cells that a spreadsheet would run as a formula (``= + - @``) get a leading apostrophe. Every string
that reaches the HTML is escaped: tables with ``html.escape``; map data travels as JSON in a
``<script type="application/json">`` block (``<``, ``>``, ``&`` as ``\\u003c`` …) and is put on the
map with ``textContent`` — never through folium's popups, which build HTML in JavaScript template
literals.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from branca.element import Element

from geo.coverage import Coverage, FacilityFilter, PreparedGrid, Threshold, compute_coverage, hourly_coverage
from geo.export import csv_safe
from geo.gaps import gaps_feature_collection, uncovered_areas
from geo.geography import Districts
from geo.hours import now_local
from geo.nearest import FacilityIndex
from geo.overlay import CLASSES, coverage_overlay, legend
from geo.siting import Plan, plan_sites
from web.maps import OSM_ATTR, OSM_TILES, QINGDAO_CENTER

__all__ = ["Report", "write_report"]

VENDOR = Path(__file__).resolve().parent / "static" / "vendor" / "leaflet"
TITLE = "青岛职工服务设施覆盖与选址报告 · Coverage and new-site report"


@dataclass
class Report:
    out_dir: Path
    coverage: Coverage
    plan: Plan | None
    gaps: list
    files: list[Path] = field(default_factory=list)


# --------------------------------------------------------------------------- files


def _cell(v):
    """A CSV cell: lists joined with ';', formulas defused (geo.export.csv_safe)."""
    return csv_safe(";".join(map(str, v)) if isinstance(v, list | tuple) else v)


def _write_csv(path: Path, rows: list[dict], columns: list[str] | None = None) -> Path:
    columns = columns or (list(rows[0]) if rows else [])
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([_cell(r.get(c)) for c in columns])
    return path


def _json_for_script(data) -> str:
    """JSON safe inside a <script> element (no '<', '>' or '&' left to end it or start markup)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _flat_assumptions(a: dict, prefix: str = "") -> list[dict]:
    rows = []
    for k, v in a.items():
        if isinstance(v, dict):
            rows += _flat_assumptions(v, f"{prefix}{k}.")
        else:
            rows.append({"key": prefix + k, "value": ";".join(map(str, v)) if isinstance(v, list) else v})
    return rows


# --------------------------------------------------------------------------- html


def _table(rows: list[dict], columns: list[tuple[str, str]], *, numeric: set[str] = frozenset()) -> str:
    head = "".join(f"<th scope=\"col\">{html.escape(label)}</th>" for _, label in columns)
    body = []
    for r in rows:
        cells = []
        for key, _ in columns:
            v = r.get(key)
            if v is None:
                text = "–"
            elif key in ("lon", "lat"):
                text = f"{v:.6f}"
            else:
                text = f"{v:,.1f}" if isinstance(v, float) else str(v)
            cls = ' class="num"' if key in numeric else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


_STYLE = """
<style>
/* folium puts the map div last in <body>: order the page head, map, tables with flexbox */
html body { height: auto; min-height: 100%; display: flex; flex-direction: column;
  font-family: system-ui, "PingFang SC", "Microsoft YaHei", sans-serif; color: #1b1b1b; }
html body > .wm-head { order: 0; flex: none; }
html body > .folium-map { order: 1; flex: 0 0 600px; }
html body > .wm-report { order: 2; flex: none; width: 100%; box-sizing: border-box; }
.wm-report { max-width: 1100px; margin: 0 auto; padding: 0 16px 48px; }
.wm-head { max-width: 1100px; margin: 0 auto; padding: 12px 16px; box-sizing: border-box; width: 100%; }
.wm-head h1 { font-size: 1.35rem; margin: 0 0 4px; }
.wm-sample { background: #fff4ce; border: 1px solid #e0b400; padding: 6px 10px; margin: 8px 0; }
.wm-report h2 { font-size: 1.1rem; margin: 28px 0 8px; border-bottom: 1px solid #ccc; }
.wm-report table { border-collapse: collapse; width: 100%; font-size: 0.88rem; }
.wm-report th, .wm-report td { border-bottom: 1px solid #e3e3e3; padding: 3px 6px; text-align: left; }
.wm-report td.num { text-align: right; font-variant-numeric: tabular-nums; }
.wm-legend span { display: inline-block; width: 14px; height: 14px; vertical-align: middle; margin: 0 4px 0 12px; }
.wm-assume dt { font-weight: 600; float: left; clear: left; width: 210px; }
.wm-assume dd { margin: 0 0 2px 220px; }
.leaflet-tooltip.wm-rank { background: transparent; border: 0; box-shadow: none; font-weight: 700; padding: 0; }
.leaflet-tooltip.wm-rank:before { display: none; }
</style>
"""

_SCRIPT = """
(function () {
  "use strict";
  function go() {
    var map = window[%(map)s];
    var data = JSON.parse(document.getElementById("wm-report-data").textContent);
    function box(lines) {
      var d = document.createElement("div");
      lines.forEach(function (t, i) {
        if (i) { d.appendChild(document.createElement("br")); }
        var s = document.createElement(i ? "span" : "b");
        s.textContent = String(t);
        d.appendChild(s);
      });
      return d;
    }
    var gaps = L.geoJSON(data.gaps, {
      style: { color: "#7f1d1d", weight: 1.5, dashArray: "4 3", fillColor: "#7f1d1d", fillOpacity: 0.06 },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        layer.bindPopup(box(["#" + p.rank + " " + p.district, p.area_km2 + " km²",
          data.labels.uncovered_workers + ": " + p.uncovered_workers,
          data.labels.uncovered_residents + ": " + p.uncovered_residents]));
      }
    });
    var facilities = L.layerGroup();
    data.facilities.forEach(function (f) {
      L.circleMarker([f.lat, f.lon], { radius: 3, weight: 1, color: "#ffffff", fillColor: "#1f4e79", fillOpacity: 0.9 })
        .bindPopup(box([f.name, f.kind + " · " + f.district, data.labels.workers_served + ": " + f.workers_served]))
        .addTo(facilities);
    });
    var sites = L.layerGroup();
    data.sites.forEach(function (s) {
      L.circleMarker([s.lat, s.lon], { radius: 10, weight: 2, color: "#111111", fillColor: "#ffd400", fillOpacity: 1 })
        .bindTooltip(String(Number(s.rank)), { permanent: true, direction: "center", className: "wm-rank" })
        .bindPopup(box(["#" + s.rank + " " + s.district, data.labels.gain + ": +" + s.marginal_gain,
          data.labels.cumulative + ": " + s.cumulative_pct + " %%"]))
        .addTo(sites);
    });
    gaps.addTo(map); facilities.addTo(map); sites.addTo(map);
    var overlays = {};
    overlays[data.labels.grid] = window[%(grid)s];
    overlays[data.labels.districts] = window[%(districts)s];
    overlays[data.labels.gaps] = gaps;
    overlays[data.labels.facilities] = facilities;
    overlays[data.labels.sites] = sites;
    L.control.layers(null, overlays, { collapsed: false }).addTo(map);
  }
  if (document.readyState === "complete") { go(); } else { window.addEventListener("load", go); }
})();
"""


def _map_html(cov: Coverage, overlay, districts: Districts, gaps_fc: dict, plan: Plan | None, served: list[dict],
              body_html: str, head_html: str) -> str:
    import folium

    m = folium.Map(location=QINGDAO_CENTER, zoom_start=9, tiles=None, control_scale=True, height=600)
    m.default_js = [("leaflet", "vendor/leaflet/leaflet.js")]  # instance lists: the copied files, no CDN
    m.default_css = [("leaflet_css", "vendor/leaflet/leaflet.css")]
    folium.TileLayer(OSM_TILES, attr=OSM_ATTR, name="OpenStreetMap", max_zoom=19).add_to(m)
    b = overlay.bounds
    grid = folium.raster_layers.ImageOverlay("data:image/png;base64," + base64.b64encode(overlay.png).decode(),
                                             bounds=[list(b[0]), list(b[1])], opacity=0.75, name="coverage")
    grid.add_to(m)
    outline = folium.GeoJson(districts.frame[["adcode", "geometry"]].__geo_interface__, name="districts",
                             style_function=lambda _f: {"color": "#12263a", "weight": 1.5, "fill": False})
    outline.add_to(m)
    m.fit_bounds([list(b[0]), list(b[1])])
    root = m.get_root()
    data = {
        "gaps": gaps_fc,
        "sites": [] if plan is None else [{k: s[k] for k in ("rank", "lon", "lat", "district", "marginal_gain",
                                                               "cumulative_pct")} for s in plan.sites],
        "facilities": [{k: f[k] for k in ("name", "kind", "district", "lon", "lat", "workers_served")}
                       for f in served],
        "labels": {"grid": "覆盖网格 coverage grid", "districts": "区界 districts",
                   "gaps": "未覆盖区域 uncovered areas", "facilities": "现有设施 facilities",
                   "sites": "建议新址 proposed sites", "uncovered_workers": "未覆盖户外劳动者 uncovered workers",
                   "uncovered_residents": "未覆盖居民 uncovered residents",
                   "workers_served": "服务户外劳动者 workers served", "gain": "新增覆盖 gain",
                   "cumulative": "累计覆盖 cumulative"},
    }
    root.header.add_child(Element(_STYLE))
    root.html.add_child(Element(head_html), index=0)
    root.html.add_child(Element(body_html))
    root.html.add_child(Element(f'<script type="application/json" id="wm-report-data">{_json_for_script(data)}'
                                "</script>"))
    names = {"map": json.dumps(m.get_name()), "grid": json.dumps(grid.get_name()),
             "districts": json.dumps(outline.get_name())}
    root.script.add_child(Element(_SCRIPT % names))
    return root.render()


def _dl(items: list[tuple[str, object]]) -> str:
    return "<dl class=\"wm-assume\">" + "".join(
        f"<dt>{html.escape(str(k))}</dt><dd>{html.escape('–' if v is None else str(v))}</dd>" for k, v in items) + \
        "</dl>"


# --------------------------------------------------------------------------- builder


def write_report(out_dir: str | Path, *, prepared: PreparedGrid, index: FacilityIndex, threshold: Threshold,
                 facility_filter: FacilityFilter, districts: Districts, sample: bool = False, add: int = 20,
                 demand: str = "workers", min_spacing_m: float = 0.0, exclude=None, candidates=None,
                 method: str = "greedy", gaps_limit: int = 50, district: str | None = None, day: date | None = None,
                 coverage: Coverage | None = None) -> Report:
    """Compute coverage, hours, gaps and (``add`` > 0) a siting plan, and write the report into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cov = coverage or compute_coverage(prepared, index, threshold, facility_filter=facility_filter)
    day = day or (facility_filter.open_at.date() if facility_filter.open_at else now_local().date())
    hours = hourly_coverage(prepared, index, threshold, facility_filter.at(None), day=day, district=district)
    gaps = uncovered_areas(cov, district=district, limit=gaps_limit, rank_by=demand)
    assumptions = {**cov.assumptions(), "district": district, "report_date": day.isoformat(),
                   "generated_at": now_local().isoformat(timespec="minutes") + "+08:00", "sample_registry": sample}
    gaps_fc = gaps_feature_collection(gaps, assumptions=assumptions, demand_source=prepared.source)
    plan = None
    if add > 0:
        plan = plan_sites(cov, add=add, demand=demand, min_spacing_m=min_spacing_m, exclude=exclude,
                          candidates=candidates, district=district, method=method)
        assumptions["plan"] = {"add": add, "demand": demand, "min_spacing_m": min_spacing_m, "method": method,
                               "candidates": "listed" if candidates is not None else "land cells of the demand grid",
                               "placed": len(plan.sites), "notes": plan.notes}
    overlay = coverage_overlay(cov, district=district)
    served = sorted(cov.facility_table(), key=lambda r: -r["workers_served"])
    city, table = cov.city_row(), cov.district_table(district)

    files = [out / "coverage.png"]
    files[0].write_bytes(overlay.png)
    vendor = out / "vendor" / "leaflet"
    if vendor.exists():
        shutil.rmtree(vendor)
    shutil.copytree(VENDOR, vendor)
    files += sorted(p for p in vendor.rglob("*") if p.is_file())
    files.append(_write_csv(out / "districts.csv", [city, *table]))
    files.append(_write_csv(out / "hours.csv", hours))
    gap_rows = [gp.properties() for gp in gaps]
    files.append(_write_csv(out / "gaps.csv", gap_rows, ["rank", "district", "adcode", "cells", "area_km2",
                                                          "uncovered_workers", "uncovered_residents", "lon", "lat"]))
    (out / "gaps.geojson").write_text(json.dumps(gaps_fc, ensure_ascii=False), encoding="utf-8")
    files.append(out / "gaps.geojson")
    site_cols = ["rank", "lon", "lat", "district", "adcode", "marginal_gain", "cumulative_covered", "cumulative_pct"]
    files.append(_write_csv(out / "sites.csv", plan.sites if plan else [], site_cols))
    files.append(_write_csv(out / "curve.csv", plan.curve if plan else [], ["sites", "gain", "covered", "pct"]))
    sites_fc = {"type": "FeatureCollection", "demand_source": prepared.source, "assumptions": assumptions,
                "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [s["lon"], s["lat"]]},
                              "properties": {k: s[k] for k in site_cols if k not in ("lon", "lat")}}
                             for s in (plan.sites if plan else [])]}
    (out / "sites.geojson").write_text(json.dumps(sites_fc, ensure_ascii=False), encoding="utf-8")
    files.append(out / "sites.geojson")
    files.append(_write_csv(out / "facilities.csv", served))
    files.append(_write_csv(out / "assumptions.csv", _flat_assumptions(assumptions), ["key", "value"]))
    (out / "assumptions.json").write_text(json.dumps(assumptions, ensure_ascii=False, indent=1), encoding="utf-8")
    files.append(out / "assumptions.json")

    a = assumptions
    unit = "户外劳动者 workers" if demand == "workers" else "居民 residents"
    scope = "青岛市 city" if district is None else table[0]["name"]
    head_html = (
        "<div class=\"wm-head\">"
        f"<h1>{html.escape(TITLE)}</h1>"
        f"<div>{html.escape(scope)} · {html.escape(threshold.label)} · {html.escape(str(a['generated_at']))}</div>"
        + ("<div class=\"wm-sample\">示例数据：设施名录为生成的样例，不是真实设施。"
           "SAMPLE DATA: the facility registry is generated sample data, not real facilities.</div>"
           if sample else "")
        + f"<div>需求来源 Demand: {html.escape(prepared.source)}"
        + (" — 模型估算，非实测 modelled, not observed" if prepared.source == "modelled" else "") + "</div>"
        "<div class=\"wm-legend\">" + "".join(
            f"<span style=\"background:{row['color']}\"></span>{html.escape(row['label'])}"
            for row in legend(cov.radius_m)) + "</div></div>")
    pct_cols = [("name", "区 district"), ("cells", "网格 cells"), ("area_covered_pct", "面积覆盖 % area"),
                ("residents_covered_pct", "居民覆盖 % residents"), ("workers_covered_pct", "户外劳动者覆盖 % workers"),
                ("uncovered_workers", "未覆盖户外劳动者 uncovered workers"),
                ("uncovered_residents", "未覆盖居民 uncovered residents")]
    numeric = {"cells", "area_covered_pct", "residents_covered_pct", "workers_covered_pct", "uncovered_workers",
               "uncovered_residents", "open_facilities", "marginal_gain", "cumulative_covered", "cumulative_pct",
               "area_km2", "workers_served", "residents_served", "rank"}
    parts = [
        "<div class=\"wm-report\">",
        "<h2>假设 Assumptions</h2>",
        _dl([("阈值 threshold", threshold.label), ("threshold_m", a["threshold_m"]), ("mode", a["mode"]),
             ("minutes", a["minutes"]), ("walk_kmh", a["walk_kmh"]), ("ebike_kmh", a["ebike_kmh"]),
             ("detour_factor", a["detour_factor"]), ("edge rule", a["edge_rule"]), ("distance", a["distance"]),
             ("cell_m", a["cell_m"]), ("demand source", a["demand_source"]),
             ("facilities counted", a["eligible_facilities"]), ("kind", a["filter"]["kind"]),
             ("amenity", ", ".join(a["filter"]["amenity"]) or "–"), ("worker", a["filter"]["worker"]),
             ("open_at", a["filter"]["open_at"]), ("open_24h", a["filter"]["open_24h"]),
             ("include_closed", a["filter"]["include_closed"])]),
        "<h2>分区覆盖 Coverage by district</h2>",
        _table([city, *table], pct_cols, numeric=numeric),
        f"<h2>24 小时覆盖 Coverage by hour ({html.escape(day.isoformat())}, {html.escape(scope)})</h2>",
        _table(hours, [("hour", "时 hour"), ("open_facilities", "开放设施 open"),
                       ("area_covered_pct", "面积 % area"), ("residents_covered_pct", "居民 % residents"),
                       ("workers_covered_pct", "户外劳动者 % workers"),
                       ("uncovered_workers", "未覆盖 uncovered workers")],
               numeric=numeric),
        f"<h2>最大未覆盖区域 Largest uncovered areas (by uncovered {html.escape(unit)})</h2>",
        _table(gap_rows, [("rank", "#"), ("district", "区 district"), ("area_km2", "km²"),
                          ("uncovered_workers", "未覆盖户外劳动者 workers"),
                          ("uncovered_residents", "未覆盖居民 residents")],
               numeric=numeric),
    ]
    if plan is not None:
        parts += [
            f"<h2>建议新址 Proposed new sites (+{len(plan.sites)}, {html.escape(unit)})</h2>",
            f"<p>现状覆盖 covered today: {plan.covered_before:,.1f} / {plan.total_demand:,.1f}; "
            f"新增 added: {plan.added_gain:,.1f}. {html.escape(' '.join(plan.notes))}</p>",
            _table(plan.sites, [("rank", "#"), ("district", "区 district"), ("lon", "lon"), ("lat", "lat"),
                                ("marginal_gain", "新增覆盖 gain"), ("cumulative_covered", "累计 cumulative"),
                                ("cumulative_pct", "累计 %")], numeric=numeric),
        ]
    parts += [
        "<h2>设施服务量 Demand served per facility (top 30)</h2>",
        _table(served[:30], [("name", "名称 name"), ("kind", "类型 kind"), ("district", "区 district"),
                             ("workers_served", "户外劳动者 workers"), ("residents_served", "居民 residents")],
               numeric=numeric),
        "<p>文件 Files: districts.csv, hours.csv, gaps.csv/.geojson, sites.csv/.geojson, curve.csv, facilities.csv, "
        "assumptions.csv/.json, coverage.png. CSV: UTF-8 with BOM. Map tiles © OpenStreetMap contributors "
        "(need internet; everything else works offline).</p>",
        "</div>",
    ]
    (out / "index.html").write_text(_map_html(cov, overlay, districts, gaps_fc, plan, served, "".join(parts),
                                              head_html), encoding="utf-8")
    files.append(out / "index.html")
    readme = (f"{TITLE}\n\nOpen index.html in a browser (keep the vendor folder next to it).\n"
              f"Threshold: {threshold.label}; detour factor {a['detour_factor']}; walk {a['walk_kmh']} km/h; "
              f"e-bike {a['ebike_kmh']} km/h.\nDemand: {prepared.source}"
              f"{' (modelled, not observed)' if prepared.source == 'modelled' else ''}.\n"
              f"{'SAMPLE registry: generated facilities, not real ones.' if sample else ''}\n"
              f"Classes of coverage.png: {', '.join(c[1] for c in CLASSES[1:])}.\n")
    (out / "README.txt").write_text(readme, encoding="utf-8")
    files.append(out / "README.txt")
    return Report(out, cov, plan, gaps, files)
