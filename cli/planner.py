"""Planner commands: gaps, plan, whatif, report.

Their options are the HTTP API's parameters, built from the same declarations
(:mod:`geo.planner_params`: names, ranges, choices, defaults, help, the rule "``--minutes`` or
``--threshold-m``, not both"), parsed into the same :class:`geo.planner.PlannerOptions` and answered by the
same :mod:`geo.planner` functions, so ``workermap gaps --json`` says what ``GET /api/v1/gaps`` says. Every
command prints the assumptions (threshold, speeds, detour factor, filters) and the demand source first::

    workermap gaps --mode ebike --minutes 15 --open-at 2026-11-25T02:00 --hours
    workermap plan --add 20 --demand workers --min-spacing-m 500 --out sites.csv
    workermap whatif --add 120.455,36.160 --close st-370214-0034
    workermap report --out report/ --add 20

Options of their own: ``--json``, ``--cell-m`` (a modelled demand grid at another cell size), ``--out``,
``gaps --hours``, and files where the API takes JSON: ``plan --exclude FILE`` (GeoJSON polygons) and
``--candidates FILE`` (CSV lon,lat or GeoJSON points), read and then checked as the API checks the JSON.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import click

from cli.base import given, param_options, settings, store, write_output, writing
from geo.params import Params  # light: declarations only
from geo.planner_params import (
    CANDIDATES,
    CLOSE,
    COVERAGE,
    DATE,
    EXCLUDE,
    GAPS,
    MAX_WHATIF_SITES,
    PLAN,
    REMOVE,
    REPORT,
    WHATIF,
)

__all__ = ["gaps", "plan", "report", "whatif"]

#: ``gaps`` ranks by ``demand``; its flag was ``--rank-by`` (both work).
FLAGS = {"demand": ["--demand", "--rank-by"]}
#: ``gaps`` prints the 24-hour table of ``--date`` with ``--hours``.
GAPS_CLI = Params(GAPS, DATE)


def _own_options(fn):
    """Options the API has no parameter for."""
    options = [
        click.option("--cell-m", type=click.IntRange(50, 2000), default=None,
                     help="Build the modelled demand grid at this cell size (e.g. 100) instead of the working grid."),
        click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables."),
    ]
    return functools.reduce(lambda f, opt: opt(f), reversed(options), fn)


def _files(fn):
    """``--exclude`` and ``--candidates``: files holding what POST /plan takes as JSON."""
    options = [
        click.option("--exclude", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help=f"A GeoJSON file. {EXCLUDE.description}"),
        click.option("--candidates", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help=f"A CSV file with lon,lat columns or GeoJSON points. {CANDIDATES.description}"),
    ]
    return functools.reduce(lambda f, opt: opt(f), reversed(options), fn)


class _Context:
    """Everything a planner command needs, loaded once: the planner's data and the options given."""

    def __init__(self, ctx: click.Context, params, values: dict, **structured):
        from geo import city_planner, planner
        from geo.coverage import PreparedGrid
        from geo.demand import build_demand_grid, load_demand
        from geo.nearest import FacilityIndex, Travel
        from geo.regions import active_region
        from geo.travel import TravelContext

        s = settings(ctx)
        cell_m, self.as_json = values.pop("cell_m", None), values.pop("as_json", False)
        # a geo.errors.ParameterError from here on is one line naming the option (cli.base)
        parsed = params.parse({**given(params, values), **structured}, check_unknown=False)
        region = active_region()
        city = city_planner.resolve_city(region, parsed["city"])
        registry_store = store(ctx)
        self.registry = registry_store.load()
        travel = Travel.from_settings(s)
        if city_planner.needs_city(region):  # a province or the nation: the city's own data (geo.city_planner)
            if cell_m:
                raise click.BadParameter("the modelled demand grid is Qingdao's; run with WORKERMAP_REGION=370200",
                                         param_hint="--cell-m")
            self.data = city_planner.city_data(city[0], self.registry, s, travel=travel)
            self.districts = self.data.districts
            self.opts = planner.from_values(self.data, parsed)
            return
        self.districts = registry_store.districts
        grid = load_demand(s.demand_path)
        if cell_m:
            if grid.source != "modelled":
                raise click.BadParameter(f"the working demand grid is imported ({grid.source}); --cell-m rebuilds "
                                         "only the modelled grid", param_hint="--cell-m")
            grid = build_demand_grid(self.districts, cell_m=cell_m)
        self.data = planner.PlannerData(PreparedGrid(grid, self.districts.names),
                                        FacilityIndex(self.registry.facilities, travel=travel), self.districts,
                                        travel, self.registry.is_sample,
                                        travel_context=TravelContext.for_settings(s), city=city)
        self.opts = planner.from_values(self.data, parsed)

    @property
    def prepared(self):
        return self.data.prepared

    @property
    def coverage(self):
        from geo import planner

        return planner.coverage(self.data, self.opts)

    def header(self) -> None:
        from geo import planner

        a = self.coverage.assumptions()
        f = a["filter"]
        kind = f["kind"] if isinstance(f["kind"], str) else ",".join(f["kind"])
        click.echo(f"threshold {self.opts.threshold.label}; detour factor {a['detour_factor']}, walk "
                   f"{a['walk_kmh']} km/h, e-bike {a['ebike_kmh']} km/h; exactly on the threshold counts as covered")
        click.echo(f"travel: {planner.travel_text(a['travel'])}")
        click.echo(f"facilities counted: {a['eligible_facilities']} (kind={kind}"
                   + (f", amenity={','.join(f['amenity'])}" if f["amenity"] else "")
                   + (f", worker={f['worker']}" if f["worker"] else "") + (", 24/7 only" if f["open_24h"] else "")
                   + f", open_at={f['open_at']})")
        click.echo(f"demand: {self.prepared.source}"
                   + (" (modelled, not observed)" if self.prepared.source == "modelled" else "")
                   + f", {self.prepared.cell_m} m cells" + ("; SAMPLE registry" if self.registry.is_sample else ""))


def _pct(v) -> str:
    return "–" if v is None else f"{v:.1f}"


def _coverage_table(rows: list[dict]) -> str:
    from cli.table import table

    body = [[r["name"], f"{r['cells']:,}", _pct(r["area_covered_pct"]), _pct(r["residents_covered_pct"]),
             _pct(r["workers_covered_pct"]), f"{r['uncovered_workers']:,.0f}", f"{r['uncovered_residents']:,.0f}"]
            for r in rows]
    return table(["district", "cells", "area_%", "residents_%", "workers_%", "uncovered_workers",
                  "uncovered_residents"], body, right=(1, 2, 3, 4, 5, 6))


def _read_points(path: Path | None, hint: str) -> list | None:
    """[lon, lat] points from a CSV (columns lon, lat) or GeoJSON points, as the JSON list POST /plan takes."""
    if path is None:
        return None
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
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise click.BadParameter(f"{path}: cannot read lon/lat points ({exc})", param_hint=hint) from None
    if not pts:
        raise click.BadParameter(f"{path}: no points", param_hint=hint)
    return pts


def _read_geojson(path: Path | None, hint: str):
    """A GeoJSON file's object, as POST /plan takes it in ``exclude``."""
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"{path}: not GeoJSON ({exc})", param_hint=hint) from None


def _structured(exclude: Path | None, candidates: Path | None) -> dict:
    return {"exclude": _read_geojson(exclude, "--exclude"), "candidates": _read_points(candidates, "--candidates")}


# --------------------------------------------------------------------------- gaps


@click.command()
@param_options(GAPS_CLI, flags=FLAGS)
@_own_options
@click.option("--hours", "show_hours", is_flag=True, help="Also print coverage at each hour of --date (facilities "
              "open then).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the uncovered areas (WGS84) as .geojson, .csv (WKT column), .gpkg or .kml.")
@click.pass_context
def gaps(ctx: click.Context, show_hours: bool, out: Path | None, **values):
    """Coverage by district and the largest uncovered areas (GET /api/v1/coverage, /gaps, /coverage/hours)."""
    from cli.table import table
    from geo import planner

    if out is not None:
        from geo.export import DOWNLOAD_FORMATS

        if out.suffix.lower().lstrip(".") not in DOWNLOAD_FORMATS:
            raise click.BadParameter(f"{out.name}: use a .geojson, .csv, .gpkg or .kml file", param_hint="--out")
    c = _Context(ctx, GAPS_CLI, values)
    tables = planner.coverage_tables(c.data, c.opts)
    fc = planner.gaps(c.data, c.opts)
    found = [f["properties"] for f in fc["features"]]
    hours = planner.coverage_hours(c.data, c.opts)["hours"] if show_hours else None
    if out is not None:
        from geo.export import polygon_layer_export
        from geo.gaps import uncovered_title

        fmt = out.suffix.lower().lstrip(".")
        title = uncovered_title(fc["assumptions"].get("city"))
        write_output(out, polygon_layer_export(fc, fmt, layer="uncovered", title=title))
    if c.as_json:
        click.echo(json.dumps({"assumptions": fc["assumptions"], "demand_source": tables["demand_source"],
                               "sample": tables["sample"], "city": tables["city"], "districts": tables["districts"],
                               "gaps": found, "summary": fc["summary"], "below_floor": fc["below_floor"],
                               "hours": hours}, ensure_ascii=False, indent=1))
        return
    c.header()
    click.echo("")
    click.echo(_coverage_table([tables["city"], *tables["districts"]]))
    if hours is not None:
        click.echo("")
        click.echo(f"by hour ({hours[0]['at'][:10]}, {hours[0]['name']}; only facilities open then):")
        click.echo(table(["hour", "open", "area_%", "residents_%", "workers_%", "uncovered_workers"],
                         [[h["hour"], str(h["open_facilities"]), _pct(h["area_covered_pct"]),
                           _pct(h["residents_covered_pct"]), _pct(h["workers_covered_pct"]),
                           f"{h['uncovered_workers']:,.0f}"] for h in hours], right=(1, 2, 3, 4, 5)))
    click.echo("")
    spots, s = fc["assumptions"]["hot_spots"], fc["summary"]
    click.echo(f"largest uncovered areas, hot spots (by uncovered {c.opts.demand}): cells with at least "
               f"{spots['min_density_km2']:g} uncovered {spots['demand']} per km², no area over "
               f"{spots['max_area_km2']:g} km²; {s['areas']} areas hold {_pct(s['in_areas_pct'])} % of the uncovered "
               f"{s['demand']}, these {s['listed']} {_pct(s['in_listed_pct'])} %; near = the nearest township or town "
               "in the district, m from the centroid")
    click.echo(table(["#", "district", "near", "m", "area_km2", "uncovered_workers", "uncovered_residents",
                      "centroid_lon", "centroid_lat"],
                     [[str(g["rank"]), g["district"], g["place"] or "–",
                       "–" if g["place_distance_m"] is None else f"{g['place_distance_m']:,.0f}",
                       f"{g['area_km2']:,.2f}", f"{g['uncovered_workers']:,.0f}", f"{g['uncovered_residents']:,.0f}",
                       f"{g['centroid_lon']:.5f}", f"{g['centroid_lat']:.5f}"]
                      for g in found], right=(0, 3, 4, 5, 6, 7, 8))
               if found else "none above the floor")
    thin = [r for r in fc["below_floor"] if r["cells"]]
    if thin:
        click.echo("")
        click.echo("uncovered below the floor (not drawn):")
        click.echo(table(["district", "cells", "area_km2", "uncovered_workers", "uncovered_residents"],
                         [[r["district"], f"{r['cells']:,}", f"{r['area_km2']:,.2f}", f"{r['uncovered_workers']:,.0f}",
                           f"{r['uncovered_residents']:,.0f}"] for r in thin], right=(1, 2, 3, 4)))
    if out is not None:
        click.echo(f"wrote {len(found)} uncovered areas to {out}")


# --------------------------------------------------------------------------- plan


@click.command()
@param_options(PLAN, skip=("exclude", "candidates"))
@_files
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the sites: .csv (UTF-8 BOM) or .geojson.")
@_own_options
@click.pass_context
def plan(ctx: click.Context, exclude: Path | None, candidates: Path | None, out: Path | None, **values):
    """Where to add new sites (keeping the existing ones) to cover the most uncovered demand (POST /api/v1/plan)."""
    from cli.table import table
    from geo import planner

    c = _Context(ctx, PLAN, values, **_structured(exclude, candidates))
    # a geo.siting.SitingError is one line, "cannot plan: …" (cli.base)
    result = planner.run_plan(c.data, c.opts)
    if out is not None:
        fmt = "geojson" if out.suffix.lower() in (".geojson", ".json") else "csv"
        write_output(out, planner.sites_download(c.data, c.opts, result, fmt))
    if c.as_json:
        click.echo(json.dumps(planner.plan_payload(c.data, c.opts, result), ensure_ascii=False, indent=1))
        return
    o = c.opts
    c.header()
    click.echo(f"plan: +{o.add} sites by {o.method}, maximising newly covered {o.demand}; min spacing "
               f"{o.min_spacing_m:g} m; {result.candidates:,} candidates")
    click.echo(f"covered today: {result.covered_before:,.1f} of {result.total_demand:,.1f} {o.demand} "
               f"({result.curve[0]['pct']} %)")
    click.echo("")
    click.echo(table(["#", "district", "lon", "lat", "marginal_gain", "cumulative", "cumulative_%"],
                     [[str(s["rank"]), s["district"], f"{s['lon']:.6f}", f"{s['lat']:.6f}",
                       f"{s['marginal_gain']:,.1f}", f"{s['cumulative_covered']:,.1f}", f"{s['cumulative_pct']:.2f}"]
                      for s in result.sites], right=(0, 2, 3, 4, 5, 6)))
    click.echo(f"added: {result.added_gain:,.1f} {o.demand}")
    for note in result.notes:
        click.echo(f"note: {note}")
    if result.exact:
        e = result.exact
        click.echo(f"exact: {e['status']} by {e['solver']} in {e['solve_s']} s (model built in {e['build_s']} s: "
                   f"{e['demand_cells']:,} demand cells in {e['demand_groups']:,} groups, aggregation error "
                   f"{e['aggregation_error']:g}; {e['candidates']:,} candidates, {e['dominated_candidates']:,} "
                   f"dominated ones dropped); greedy on the same instance {e['greedy_gain']:,.1f} = "
                   f"{100 * (e['greedy_ratio'] or 0):.2f} % of {e['gain']:,.1f}")
        if not e["optimal"]:
            click.echo(f"note: not proven optimal: the best plan found ({e['plan_from']}) is within {e['gap_pct']} % "
                       f"of the bound {e['bound']}")
    if out is not None:
        click.echo(f"wrote {len(result.sites)} sites to {out}")


# --------------------------------------------------------------------------- what-if


@click.command()
@param_options(COVERAGE)
@click.option("--add", "add", multiple=True, metavar="LON,LAT",
              help=f"Add a site at lon,lat (WGS84, on land inside Qingdao; at most {MAX_WHATIF_SITES}). Repeatable.")
@click.option("--remove", multiple=True, metavar="ID", help=f"{REMOVE.description} Repeatable.")
@click.option("--close", multiple=True, metavar="ID", help=f"{CLOSE.description} Repeatable.")
@_own_options
@click.pass_context
def whatif(ctx: click.Context, add: tuple[str, ...], remove: tuple[str, ...], close: tuple[str, ...], **values):
    """Coverage with sites added, removed or closed, side by side with today (/api/v1/whatif)."""
    from cli.table import table
    from geo import planner

    structured = {"add": ";".join(add) or None, "remove": list(remove) or None, "close": list(close) or None}
    c = _Context(ctx, WHATIF, values, **structured)
    # an unknown id or a point outside Qingdao (geo.errors.ParameterError) is one line naming the option (cli.base)
    result = planner.run_whatif(c.data, c.opts)
    if c.as_json:
        click.echo(json.dumps(planner.whatif_payload(c.data, c.opts, result), ensure_ascii=False, indent=1))
        return
    rows = result.table(c.opts.district)
    c.header()
    click.echo(f"scenario: +{len(c.opts.add_sites)} added, {len(c.opts.remove)} removed, {len(c.opts.close)} closed; "
               f"facilities counted {result.today.eligible} -> {result.scenario.eligible}")
    for note in result.notes:
        click.echo(f"note: {note}")
    click.echo(table(["district", "workers covered today", "scenario", "Δ workers", "Δ %", "Δ residents", "Δ %",
                      "uncovered workers today", "scenario"],
                     [[r["name"], _count(r["workers"] - r["today_uncovered_workers"]),
                       _count(r["workers"] - r["scenario_uncovered_workers"]),
                       _signed(r["today_uncovered_workers"] - r["scenario_uncovered_workers"]),
                       _signed(r["delta_workers_covered_pct"], ".2f"),
                       _signed(r["today_uncovered_residents"] - r["scenario_uncovered_residents"]),
                       _signed(r["delta_residents_covered_pct"], ".2f"),
                       _count(r["today_uncovered_workers"]), _count(r["scenario_uncovered_workers"])]
                      for r in rows], right=(1, 2, 3, 4, 5, 6, 7, 8)))


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _signed(value: float | None, spec: str = ",.0f") -> str:
    """A change with its sign (``+1,829``, ``-0.29``); no change is ``0``, an unknown one ``–``."""
    if value is None:
        return "–"
    text = format(value, spec)
    return "0" if float(text.replace(",", "")) == 0 else format(value, "+" + spec)


# --------------------------------------------------------------------------- report


@click.command()
@param_options(REPORT, skip=("exclude", "candidates"))
@_files
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Report folder.")
@_own_options
@click.pass_context
def report(ctx: click.Context, exclude: Path | None, candidates: Path | None, out: Path, **values):
    """Write a self-contained planner report (map, tables, CSV with BOM) into a folder to mail round
    (GET|POST /api/v1/report.zip)."""
    from web.report import write_report

    c = _Context(ctx, REPORT, values, **_structured(exclude, candidates))
    with writing(out):  # a geo.siting.SitingError is one line, "cannot plan: …" (cli.base)
        rep = write_report(out, c.data, c.opts)
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
               f"{c.opts.demand}")

