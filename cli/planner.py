"""Planner commands: gaps, plan, whatif, report.

Every command prints the assumptions (threshold, speeds, detour factor, filters) and the demand
source first, and takes the same coverage options as the HTTP API::

    workermap gaps --mode ebike --minutes 15 --open-at 2026-11-25T02:00 --hours
    workermap plan --add 20 --demand workers --min-spacing-m 500 --out sites.csv
    workermap whatif --add 120.41,36.10 --close qd-st-0001
    workermap report --out report/ --add 20
"""

from __future__ import annotations

import functools
import json
from datetime import date
from pathlib import Path

import click

from cli.base import settings, store, write_output, writing
from cli.choices import LazyChoice, LazyIntRange

DEMAND = LazyChoice("geo.coverage:DEMANDS")
METHOD = LazyChoice("geo.siting:METHODS")
MAX_ADD = "geo.siting:MAX_ADD"


def coverage_options(fn):
    """The options shared by every planner command (same meaning as the API's query parameters)."""
    options = [
        click.option("--mode", type=LazyChoice("geo.coverage:MODES"), default="walk", show_default=True),
        click.option("--minutes", type=click.FloatRange(min=0, min_open=True, max=120), default=None,
                     help="Threshold in minutes by --mode [default: 15]."),
        click.option("--threshold-m", type=click.FloatRange(min=1, max=100_000), default=None,
                     help="Threshold in straight-line metres instead of minutes."),
        click.option("--kind", multiple=True, type=LazyChoice("geo.vocab:KINDS", extra=("any",)),
                     help="Facility kinds that count (repeatable) [default: station; 'any' = all]."),
        click.option("--amenity", multiple=True, type=LazyChoice("geo.vocab:AMENITIES"), metavar="AMENITY",
                     help="Count only facilities with all of these amenities (repeatable)."),
        click.option("--worker", type=LazyChoice("geo.vocab:WORKER_TYPES"), default=None,
                     help="Count only facilities this worker may enter."),
        click.option("--open-at", default="any", show_default=True,
                     help="Count only facilities open then: ISO date-time (Qingdao time), 'now' or 'any'."),
        click.option("--include-closed", is_flag=True, help="Also count temporarily closed / maintenance sites."),
        click.option("--open-24h", is_flag=True, help="Count only facilities open round the clock (24/7)."),
        click.option("--district", default=None, help="One district (adcode or name) instead of the city."),
        click.option("--cell-m", type=click.IntRange(50, 2000), default=None,
                     help="Build the modelled demand grid at this cell size (e.g. 100) instead of the working grid."),
        click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables."),
    ]
    return functools.reduce(lambda f, opt: opt(f), reversed(options), fn)


class _Context:
    """Everything a planner command needs, loaded once."""

    def __init__(self, ctx: click.Context, opts: dict):
        from geo.coverage import FacilityFilter, PreparedGrid, Threshold
        from geo.demand import build_demand_grid, load_demand
        from geo.hours import now_local, parse_when
        from geo.nearest import FacilityIndex, Travel

        s = settings(ctx)
        self.settings = s
        registry_store = store(ctx)
        self.districts = registry_store.districts
        self.registry = registry_store.load()
        travel = Travel.from_settings(s)
        self.index = FacilityIndex(self.registry.facilities, travel=travel)
        names = self.districts.names
        if opts["cell_m"]:
            grid = load_demand(s.demand_path)
            if grid.source != "modelled":
                raise click.BadParameter(f"the working demand grid is imported ({grid.source}); --cell-m rebuilds "
                                         "only the modelled grid", param_hint="--cell-m")
            grid = build_demand_grid(self.districts, cell_m=opts["cell_m"])
        else:
            grid = load_demand(s.demand_path)
        self.prepared = PreparedGrid(grid, names)
        if opts["minutes"] is not None and opts["threshold_m"] is not None:
            raise click.BadParameter("give --minutes or --threshold-m, not both", param_hint="--threshold-m")
        try:
            when = parse_when(opts["open_at"])
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--open-at") from None
        when = now_local() if when == "now" else when
        kinds = () if "any" in opts["kind"] else (tuple(opts["kind"]) or ("station",))
        # a geo.errors.ParameterError from here on is one line naming the option (cli.base)
        self.threshold = (Threshold.metres(opts["threshold_m"], travel) if opts["threshold_m"] is not None
                          else Threshold.minutes_by(opts["minutes"] or 15.0, opts["mode"], travel))
        self.filter = FacilityFilter(kinds=kinds, amenities=tuple(opts["amenity"]), worker=opts["worker"],
                                     open_at=when, include_closed=opts["include_closed"], open_24h=opts["open_24h"])
        code = self.prepared.district_code(opts["district"])
        self.district = None if code is None else self.prepared.adcodes[code]
        self.as_json = opts["as_json"]
        self._coverage = None

    @property
    def coverage(self):
        if self._coverage is None:
            from geo.coverage import compute_coverage

            self._coverage = compute_coverage(self.prepared, self.index, self.threshold, facility_filter=self.filter)
        return self._coverage

    def header(self) -> None:
        a = self.coverage.assumptions()
        f = a["filter"]
        kind = f["kind"] if isinstance(f["kind"], str) else ",".join(f["kind"])
        click.echo(f"threshold {self.threshold.label}; detour factor {a['detour_factor']}, walk {a['walk_kmh']} km/h, "
                   f"e-bike {a['ebike_kmh']} km/h; exactly on the threshold counts as covered")
        click.echo(f"facilities counted: {a['eligible_facilities']} (kind={kind}"
                   + (f", amenity={','.join(f['amenity'])}" if f["amenity"] else "")
                   + (f", worker={f['worker']}" if f["worker"] else "") + (", 24/7 only" if f["open_24h"] else "")
                   + f", open_at={f['open_at']})")
        click.echo(f"demand: {self.prepared.source}"
                   + (" (modelled, not observed)" if self.prepared.source == "modelled" else "")
                   + f", {self.prepared.cell_m} m cells" + ("; SAMPLE registry" if self.registry.is_sample else ""))


def _opts(kwargs: dict) -> dict:
    keys = ("mode", "minutes", "threshold_m", "kind", "amenity", "worker", "open_at", "include_closed", "open_24h",
            "district", "cell_m", "as_json")
    return {k: kwargs.pop(k) for k in keys}


def _pct(v) -> str:
    return "–" if v is None else f"{v:.1f}"


def _coverage_table(rows: list[dict]) -> str:
    from cli.table import table

    body = [[r["name"], f"{r['cells']:,}", _pct(r["area_covered_pct"]), _pct(r["residents_covered_pct"]),
             _pct(r["workers_covered_pct"]), f"{r['uncovered_workers']:,.0f}", f"{r['uncovered_residents']:,.0f}"]
            for r in rows]
    return table(["district", "cells", "area_%", "residents_%", "workers_%", "uncovered_workers",
                  "uncovered_residents"], body, right=(1, 2, 3, 4, 5, 6))


def _read_points(path: Path, hint: str):
    """[lon, lat] points from a CSV (columns lon, lat) or GeoJSON points (WGS84)."""
    import numpy as np
    import pandas as pd

    try:
        if path.suffix.lower() in (".geojson", ".json"):
            doc = json.loads(path.read_text(encoding="utf-8"))
            pts = [f["geometry"]["coordinates"][:2] for f in doc.get("features", [])
                   if (f.get("geometry") or {}).get("type") == "Point"]
        else:
            frame = pd.read_csv(path, encoding="utf-8-sig")
            frame.columns = [str(c).strip().lower() for c in frame.columns]
            pts = frame[["lon", "lat"]].to_numpy("float64").tolist()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise click.BadParameter(f"{path}: cannot read lon/lat points ({exc})", param_hint=hint) from None
    if not pts:
        raise click.BadParameter(f"{path}: no points", param_hint=hint)
    return np.array(pts, dtype="float64")


def _read_exclusion(path: Path | None):
    if path is None:
        return None
    import shapely
    from shapely.geometry import shape

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        feats = doc["features"] if doc.get("type") == "FeatureCollection" else [doc]
        geoms = [shape(f["geometry"] if f.get("type") == "Feature" else f) for f in feats]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise click.BadParameter(f"{path}: not GeoJSON polygons ({exc})", param_hint="--exclude") from None
    return shapely.union_all([shapely.make_valid(g) for g in geoms])


# --------------------------------------------------------------------------- gaps


@click.command()
@coverage_options
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True, help="Uncovered areas to list.")
@click.option("--rank-by", type=DEMAND, default="workers", show_default=True)
@click.option("--hours", "show_hours", is_flag=True, help="Also print coverage at each hour (facilities open then).")
@click.option("--date", "day", default=None, help="Date for --hours (YYYY-MM-DD; default: of --open-at, else today).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the uncovered areas (WGS84) as .geojson, .csv (WKT column), .gpkg or .kml.")
@click.pass_context
def gaps(ctx: click.Context, limit: int, rank_by: str, show_hours: bool, day: str | None, out: Path | None, **kwargs):
    """Coverage by district and the largest uncovered areas."""
    from cli.table import table
    from geo.coverage import hourly_coverage
    from geo.gaps import gaps_feature_collection, uncovered_areas
    from geo.hours import now_local

    c = _Context(ctx, _opts(kwargs))
    cov = c.coverage
    found = uncovered_areas(cov, district=c.district, limit=limit, rank_by=rank_by)
    hours = None
    if show_hours:
        try:
            d = date.fromisoformat(day) if day else (c.filter.open_at.date() if c.filter.open_at
                                                     else now_local().date())
        except ValueError:
            raise click.BadParameter(f"{day!r}; use YYYY-MM-DD", param_hint="--date") from None
        hours = hourly_coverage(c.prepared, c.index, c.threshold, c.filter.at(None), day=d, district=c.district)
    assumptions = {**cov.assumptions(), "district": c.district}
    fc = gaps_feature_collection(found, assumptions=assumptions, demand_source=c.prepared.source)
    if out is not None:
        from geo.export import DOWNLOAD_FORMATS, polygon_layer_export
        from geo.gaps import UNCOVERED_TITLE

        fmt = out.suffix.lower().lstrip(".")
        if fmt not in DOWNLOAD_FORMATS:
            raise click.BadParameter(f"{out.name}: use a .geojson, .csv, .gpkg or .kml file", param_hint="--out")
        write_output(out, polygon_layer_export(fc, fmt, layer="uncovered", title=UNCOVERED_TITLE))
    if c.as_json:
        click.echo(json.dumps({"assumptions": assumptions, "demand_source": c.prepared.source,
                               "city": cov.city_row(), "districts": cov.district_table(c.district),
                               "gaps": [f["properties"] for f in fc["features"]], "hours": hours},
                              ensure_ascii=False, indent=1))
        return
    c.header()
    click.echo("")
    click.echo(_coverage_table([cov.city_row(), *cov.district_table(c.district)]))
    if hours is not None:
        click.echo("")
        click.echo(f"by hour ({hours[0]['at'][:10]}, {hours[0]['name']}; only facilities open then):")
        click.echo(table(["hour", "open", "area_%", "residents_%", "workers_%", "uncovered_workers"],
                         [[h["hour"], str(h["open_facilities"]), _pct(h["area_covered_pct"]),
                           _pct(h["residents_covered_pct"]), _pct(h["workers_covered_pct"]),
                           f"{h['uncovered_workers']:,.0f}"] for h in hours], right=(1, 2, 3, 4, 5)))
    click.echo("")
    click.echo(f"largest uncovered areas (by uncovered {rank_by}):")
    click.echo(table(["#", "district", "area_km2", "uncovered_workers", "uncovered_residents", "lon", "lat"],
                     [[str(g.rank), g.district, f"{g.area_km2:,.2f}", f"{g.uncovered_workers:,.0f}",
                       f"{g.uncovered_residents:,.0f}", f"{g.properties()['lon']:.5f}", f"{g.properties()['lat']:.5f}"]
                      for g in found], right=(0, 2, 3, 4, 5, 6)) if found else "none: everything is covered")
    if out is not None:
        click.echo(f"wrote {len(found)} uncovered areas to {out}")


# --------------------------------------------------------------------------- plan


@click.command()
@coverage_options
@click.option("--add", type=LazyIntRange(1, MAX_ADD), default=20, show_default=True, help="New sites to place.")
@click.option("--demand", type=DEMAND, default="workers", show_default=True)
@click.option("--min-spacing-m", type=click.FloatRange(0, 50_000), default=0.0, show_default=True,
              help="Minimum distance of a new site to existing and to other new sites.")
@click.option("--exclude", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="GeoJSON polygons (WGS84) where no site may go.")
@click.option("--candidates", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Candidate sites: CSV with lon,lat columns or GeoJSON points (default: every land cell).")
@click.option("--method", type=METHOD, default="greedy", show_default=True,
              help="exact = spopt MCLP (small instances only).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the sites: .csv (UTF-8 BOM) or .geojson.")
@click.pass_context
def plan(ctx: click.Context, add: int, demand: str, min_spacing_m: float, exclude: Path | None,
         candidates: Path | None, method: str, out: Path | None, **kwargs):
    """Where to add new sites (keeping the existing ones) to cover the most uncovered demand."""
    from cli.table import table
    from geo.siting import plan_sites

    c = _Context(ctx, _opts(kwargs))
    pts = None if candidates is None else _read_points(candidates, "--candidates")
    # a geo.siting.SitingError is one line, "cannot plan: …" (cli.base)
    result = plan_sites(c.coverage, add=add, demand=demand, min_spacing_m=min_spacing_m,
                        exclude=_read_exclusion(exclude), candidates=pts, district=c.district, method=method)
    if out is not None:
        _write_sites(out, result, c)
    if c.as_json:
        click.echo(json.dumps({"assumptions": {**c.coverage.assumptions(), "district": c.district,
                                               "add": add, "demand": demand, "min_spacing_m": min_spacing_m,
                                               "method": method},
                               "demand_source": c.prepared.source, **result.as_dict()}, ensure_ascii=False, indent=1))
        return
    c.header()
    click.echo(f"plan: +{add} sites by {method}, maximising newly covered {demand}; min spacing {min_spacing_m:g} m; "
               f"{result.candidates:,} candidates")
    click.echo(f"covered today: {result.covered_before:,.1f} of {result.total_demand:,.1f} {demand} "
               f"({result.curve[0]['pct']} %)")
    click.echo("")
    click.echo(table(["#", "district", "lon", "lat", "marginal_gain", "cumulative", "cumulative_%"],
                     [[str(s["rank"]), s["district"], f"{s['lon']:.6f}", f"{s['lat']:.6f}",
                       f"{s['marginal_gain']:,.1f}", f"{s['cumulative_covered']:,.1f}", f"{s['cumulative_pct']:.2f}"]
                      for s in result.sites], right=(0, 2, 3, 4, 5, 6)))
    click.echo(f"added: {result.added_gain:,.1f} {demand}")
    for note in result.notes:
        click.echo(f"note: {note}")
    if result.exact:
        e = result.exact
        click.echo(f"exact: {e['status']} by {e['solver']} in {e['solve_s']} s; greedy on the same instance "
                   f"{e['greedy_gain']:,.1f} = {100 * (e['greedy_ratio'] or 0):.2f} % of the optimum {e['gain']:,.1f}")
    if out is not None:
        click.echo(f"wrote {len(result.sites)} sites to {out}")


def _csv_bytes(rows: list[dict], columns: list[str]) -> bytes:
    """CSV as the report writes it: UTF-8 with BOM, CRLF, formulas defused."""
    import csv
    import io

    from geo.export import csv_safe

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(columns)
    w.writerows([csv_safe(r.get(col)) for col in columns] for r in rows)
    return buf.getvalue().encode("utf-8-sig")


def _write_sites(out: Path, result, c: _Context) -> None:
    cols = ["rank", "lon", "lat", "district", "adcode", "marginal_gain", "cumulative_covered", "cumulative_pct"]
    if out.suffix.lower() in (".geojson", ".json"):
        fc = {"type": "FeatureCollection", "demand_source": c.prepared.source,
              "assumptions": {**c.coverage.assumptions(), "demand": result.demand,
                              "min_spacing_m": result.min_spacing_m, "method": result.method},
              "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [s["lon"], s["lat"]]},
                            "properties": {k: s[k] for k in cols if k not in ("lon", "lat")}} for s in result.sites]}
        write_output(out, json.dumps(fc, ensure_ascii=False).encode("utf-8"))
    else:  # a CSV travels alone: every row carries the assumptions and the demand source
        a = c.coverage.assumptions()
        extra = {"demand": result.demand, "threshold_m": a["threshold_m"], "mode": a["mode"], "minutes": a["minutes"],
                 "detour_factor": a["detour_factor"], "walk_kmh": a["walk_kmh"], "ebike_kmh": a["ebike_kmh"],
                 "min_spacing_m": result.min_spacing_m, "method": result.method,
                 "demand_source": c.prepared.source}
        write_output(out, _csv_bytes([{**site, **extra} for site in result.sites], cols + list(extra)))


# --------------------------------------------------------------------------- what-if


@click.command()
@coverage_options
@click.option("--add", "add_points", multiple=True, help="Add a site at lon,lat (WGS84; repeatable).")
@click.option("--remove", multiple=True, help="Take out this facility id (repeatable).")
@click.option("--close", multiple=True, help="Close this facility id temporarily (repeatable).")
@click.pass_context
def whatif(ctx: click.Context, add_points: tuple[str, ...], remove: tuple[str, ...], close: tuple[str, ...],
           **kwargs):
    """Coverage with sites added, removed or closed, side by side with today."""
    from cli.table import table
    from geo.coverage import whatif as run_whatif

    c = _Context(ctx, _opts(kwargs))
    pts = []
    for raw in add_points:
        try:
            lon, lat = (float(v) for v in raw.split(","))
        except ValueError:
            raise click.BadParameter(f"{raw!r}; use lon,lat e.g. 120.41,36.10", param_hint="--add") from None
        pts.append((lon, lat))
    if not (pts or remove or close):
        raise click.UsageError("give at least one of --add, --remove, --close")
    # an unknown id or a point outside Qingdao (geo.errors.ParameterError) is one line naming the option (cli.base)
    result = run_whatif(c.prepared, c.index, c.threshold, c.filter, add=pts, remove=remove, close=close,
                        today=c.coverage)
    rows = result.table(c.district)
    if c.as_json:
        click.echo(json.dumps({"assumptions": c.coverage.assumptions(), "demand_source": c.prepared.source,
                               "scenario": {"added": result.added, "removed": result.removed, "closed": result.closed,
                                            "notes": result.notes}, "rows": rows}, ensure_ascii=False, indent=1))
        return
    c.header()
    click.echo(f"scenario: +{len(pts)} added, {len(remove)} removed, {len(close)} closed; facilities counted "
               f"{result.today.eligible} -> {result.scenario.eligible}")
    for note in result.notes:
        click.echo(f"note: {note}")
    click.echo(table(["district", "workers_% today", "scenario", "Δ", "residents_% today", "scenario", "Δ",
                      "uncovered_workers today", "scenario"],
                     [[r["name"], _pct(r["today_workers_covered_pct"]), _pct(r["scenario_workers_covered_pct"]),
                       _pct(r["delta_workers_covered_pct"]), _pct(r["today_residents_covered_pct"]),
                       _pct(r["scenario_residents_covered_pct"]), _pct(r["delta_residents_covered_pct"]),
                       f"{r['today_uncovered_workers']:,.0f}", f"{r['scenario_uncovered_workers']:,.0f}"]
                      for r in rows], right=(1, 2, 3, 4, 5, 6, 7, 8)))


# --------------------------------------------------------------------------- report


@click.command()
@coverage_options
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Report folder.")
@click.option("--add", type=LazyIntRange(0, MAX_ADD), default=20, show_default=True,
              help="New sites to propose (0: no plan).")
@click.option("--demand", type=DEMAND, default="workers", show_default=True)
@click.option("--min-spacing-m", type=click.FloatRange(0, 50_000), default=0.0, show_default=True)
@click.option("--exclude", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--candidates", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--method", type=METHOD, default="greedy", show_default=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="Uncovered areas listed.")
@click.option("--date", "day", default=None, help="Date of the 24-hour table (YYYY-MM-DD).")
@click.pass_context
def report(ctx: click.Context, out: Path, add: int, demand: str, min_spacing_m: float, exclude: Path | None,
           candidates: Path | None, method: str, limit: int, day: str | None, **kwargs):
    """Write a self-contained planner report (map, tables, CSV with BOM) into a folder to mail round."""
    from web.report import write_report

    c = _Context(ctx, _opts(kwargs))
    try:
        d = date.fromisoformat(day) if day else None
    except ValueError:
        raise click.BadParameter(f"{day!r}; use YYYY-MM-DD", param_hint="--date") from None
    pts = None if candidates is None else _read_points(candidates, "--candidates")
    with writing(out):  # a geo.siting.SitingError is one line, "cannot plan: …" (cli.base)
        rep = write_report(out, prepared=c.prepared, index=c.index, threshold=c.threshold, facility_filter=c.filter,
                           districts=c.districts, sample=c.registry.is_sample, add=add, demand=demand,
                           min_spacing_m=min_spacing_m, exclude=_read_exclusion(exclude), candidates=pts,
                           method=method, gaps_limit=limit, district=c.district, day=d, coverage=c.coverage)
    if not c.as_json:
        c.header()
    city = rep.coverage.city_row()
    summary = {"out": str(out), "files": len(rep.files), "workers_covered_pct": city["workers_covered_pct"],
               "residents_covered_pct": city["residents_covered_pct"], "gaps": len(rep.gaps),
               "sites": 0 if rep.plan is None else len(rep.plan.sites),
               "added": 0 if rep.plan is None else rep.plan.added_gain}
    if c.as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
        return
    click.echo(f"wrote {summary['files']} files to {out} (open {out / 'index.html'}): workers covered "
               f"{_pct(city['workers_covered_pct'])} %, residents {_pct(city['residents_covered_pct'])} %; "
               f"{summary['gaps']} uncovered areas; {summary['sites']} proposed sites adding {summary['added']:,.1f} "
               f"{demand}")
