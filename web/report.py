"""The planner report: a folder a planner can zip and mail round (``workermap report``, ``/api/v1/report.zip``).

Contents of ``DIR``::

    index.html            the map (coverage grid, uncovered areas, proposed sites, facilities) and the tables
    report.css, report.js the page's style and map script
    vendor/leaflet/       Leaflet copied from web/static/vendor: the page needs no CDN and no server
    coverage.png          the coverage grid overlay
    districts.csv         coverage per district and for the city
    hours.csv             coverage at each hour of the day (only facilities open then)
    gaps.csv, gaps.geojson         uncovered areas, ranked
    sites.csv, sites.geojson, curve.csv   proposed new sites, marginal gains, cumulative curve
    facilities.csv        demand served per facility
    assumptions.csv, assumptions.json     threshold, speeds, detour factor, filters, demand source
    README.txt

What the report says is computed in :func:`geo.planner.report` (the same functions and options as the API's
endpoints: its plan is POST /api/v1/plan's for the same parameters), and so are the data files. This module
renders the page from the Jinja templates in ``web/templates/report/`` and writes the folder.

The page has no inline script or style: it is opened from disk, by whoever it was mailed to, with the
files next to it, so its style and map script are files too (``report.css``, ``report.js``), which also
keeps it within the Content-Security-Policy the app serves pages under (``web.security``) should it ever be
served. Every string from the data reaches the HTML escaped (Jinja autoescaping); the map data travels as
JSON in a ``<script type="application/json">`` block (``<``, ``>``, ``&`` as ``\\u003c`` …), which no browser
runs, and ``report.js`` puts it on the map with ``textContent``. CSV files are UTF-8 with a byte-order mark
(Excel opens them correctly) and CRLF line ends; text cells that a spreadsheet would run as a formula
(``= + - @``) get a leading apostrophe.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from markupsafe import Markup

from geo.coverage import Coverage
from geo.gaps import Gap
from geo.planner import PlannerData, PlannerOptions, report
from geo.siting import Plan
from web.maps import OSM_ATTR, OSM_TILES

__all__ = ["TEMPLATES", "VENDOR", "Report", "render_page", "write_report"]

VENDOR = Path(__file__).resolve().parent / "static" / "vendor" / "leaflet"
TEMPLATES = Path(__file__).resolve().parent / "templates" / "report"


@dataclass
class Report:
    out_dir: Path
    coverage: Coverage
    plan: Plan | None
    gaps: list[Gap]
    files: list[Path] = field(default_factory=list)


def _cell(value: Any, key: str) -> str:
    """A table cell's text: '–' for none, 6 decimals for lon/lat, thousands and one decimal for other floats."""
    if value is None:
        return "–"
    if key in ("lon", "lat"):
        return f"{value:.6f}"
    return f"{value:,.1f}" if isinstance(value, float) else str(value)


def _script_json(data: Any) -> Markup:
    """JSON safe inside a <script> element (no '<', '>' or '&' left to end it or start markup)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
                  .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


@cache
def _env():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      keep_trailing_newline=True)
    env.filters["cell"] = _cell
    env.filters["script_json"] = _script_json
    return env


def render_page(rep) -> dict[str, str]:
    """index.html, report.css and report.js for a :class:`geo.planner.ReportData`."""
    env = _env()
    map_data = {**rep.map_layers(), "tiles": {"url": OSM_TILES, "attribution": OSM_ATTR}}
    return {"index.html": env.get_template("index.html").render(r=rep, map_data=map_data),
            "report.css": env.get_template("report.css").render(legend=rep.legend()),
            "report.js": (TEMPLATES / "report.js").read_text(encoding="utf-8")}


def write_report(out_dir: str | Path, data: PlannerData, opts: PlannerOptions) -> Report:
    """Compute the report for ``opts`` (coverage, hours, gaps and, if ``opts.add`` > 0, a plan) and write it
    into ``out_dir``."""
    rep = report(data, opts)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for name, body in {**rep.files(), **render_page(rep)}.items():
        path = out / name
        if isinstance(body, str):
            path.write_text(body, encoding="utf-8")
        else:
            path.write_bytes(body)
        files.append(path)
    vendor = out / "vendor" / "leaflet"
    if vendor.exists():
        shutil.rmtree(vendor)
    shutil.copytree(VENDOR, vendor)
    files += sorted(p for p in vendor.rglob("*") if p.is_file())
    return Report(out, rep.coverage, rep.plan, rep.gaps, files)
