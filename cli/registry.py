"""Registry commands: serve, validate, import, export, sample, import-demand, nearest, search."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click

from cli.base import Failure, given, param_options, parsed, print_problems, settings, store, write_output, writing
from cli.choices import LazyChoice
from geo.params import LAT, LON, NEAREST, SEARCH, TRAVEL, parse_point  # light: declarations only
from geo.registry_params import EXPORT, LAYER

#: ``workermap nearest`` takes the options of GET /api/v1/nearest (travel assumptions from the settings).
NEAREST_CLI = NEAREST.without(*TRAVEL.names)
#: ``workermap export`` takes the options of GET /api/v1/export for its facilities and districts layers.
EXPORT_CLI = EXPORT["facilities"].replacing(replace(
    LAYER, values=("facilities", "districts"),
    description="facilities, or districts (the polygons; --bbox and --district only). Uncovered areas: "
                "`workermap gaps --out FILE` (any of these formats, by suffix)."))

DATUM = LazyChoice("geo.vocab:DATUMS")
KIND = LazyChoice("geo.vocab:KINDS")
AMENITY = LazyChoice("geo.vocab:AMENITIES")
WORKER = LazyChoice("geo.vocab:WORKER_TYPES")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--prod", is_flag=True, help="Run under gunicorn (see --worker-class).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="gunicorn worker processes (with --prod).")
@click.option("--worker-class", type=LazyChoice("web.prod:WORKER_CLASSES"), default="gevent",
              show_default=True, help="gunicorn worker type (with --prod): gevent = an event loop per worker, "
              "connections kept alive; sync = one request per connection; gthread = a thread pool.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Threads per worker (with --prod --worker-class gthread).")
@click.option("--no-access-log", is_flag=True, help="Turn gunicorn's access log off (with --prod).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, prod: bool, workers: int, worker_class: str, threads: int,
          no_access_log: bool) -> None:
    """Start the map server on the working registry."""
    from geo.registry import RegistryError

    s = settings(ctx)
    # create_app() reads the other settings from the environment; these two may have come from the command line
    app_config = {"WORKERMAP_DATA_DIR": s.data_dir, "WORKERMAP_DATABASE_URL": s.database_url}
    registry_store = store(ctx)
    from geo.regions import active_region
    from geo.store.knn import uses_database

    try:  # refuse to start on an unusable registry, with the reasons, before any worker starts (a large one queried
        # in PostGIS is not read whole: geo/store/knn.py)
        if not uses_database(s.query_mode, registry_store, region_level=active_region().level):
            registry_store.load()
    except RegistryError as exc:
        raise Failure(f"cannot start: {exc}", exc.problems) from None
    if prod:
        from web.prod import run_gunicorn

        run_gunicorn(host=host, port=port, workers=workers, worker_class=worker_class, threads=threads,
                     access_log=None if no_access_log else "-", app_config=app_config)
        return
    from web import create_app

    app = create_app(app_config)
    click.echo(f"Serving on http://{host}:{port}/  (registry: {registry_store.where})")
    app.run(host=host, port=port, debug=False, threaded=False)


@click.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output file (default: the shipped data/sample_facilities.geojson).")
@click.option("--seed", type=int, default=None, help="Random seed (default: the shipped seed).")
@click.option("--region", default=None, metavar="ADCODE",
              help="A synthetic registry of this region instead (100000: China's 186,100 stations; 370000: "
                   "Shandong's share …; needs the regions extra). --out is then required.")
@click.option("--count", type=click.IntRange(1, 10_000_000), default=None,
              help="With --region: this many worker stations (other kinds in the Qingdao sample's ratios).")
@click.pass_context
def sample(ctx: click.Context, out: Path | None, seed: int | None, region: str | None, count: int | None) -> None:
    """Generate the seeded sample registry (byte-identical for the same seed), or with --region a synthetic
    registry of any Chinese region (clearly labelled synthetic)."""
    import pandas as pd

    from geo.demand import load_demand
    from geo.geography import load_districts
    from geo.sample import SEED, generate_sample, sample_geojson

    s = settings(ctx)
    if region is not None or count is not None:
        _regional_sample(region, out, seed, count)
        return
    shipped = Path(s.shipped_dir)
    grid = load_demand(shipped / "demand_grid_250m.csv.gz")
    townships = pd.read_csv(shipped / "reference" / "qingdao_townships.csv", dtype=str)
    facilities = generate_sample(grid, load_districts(s.districts_path), townships,
                                 seed=SEED if seed is None else seed)
    out = out or s.sample_path
    write_output(out, sample_geojson(facilities))
    click.echo(f"wrote {len(facilities)} sample facilities to {out}")


def _regional_sample(region: str | None, out: Path | None, seed: int | None, count: int | None) -> None:
    """``workermap sample --region``: the synthetic registry of a region (``geo.sample.national_sample``)."""
    from geo.regions import RegionError, load_region
    from geo.sample import NATIONAL_SEED, national_geojson, national_sample

    if region is None:
        raise Failure("--count goes with --region (the shipped Qingdao sample has fixed counts)")
    if out is None:
        raise Failure("--region needs --out FILE (the shipped sample is Qingdao's)")
    seed = NATIONAL_SEED if seed is None else seed
    try:
        where = load_region(region)
        facilities = national_sample(where, seed=seed, count=count)
    except (RegionError, ValueError) as exc:
        raise Failure(str(exc)) from None
    write_output(out, national_geojson(facilities, where, seed))
    click.echo(f"wrote {len(facilities)} synthetic facilities of {where.name_en} ({where.adcode}) to {out}")


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--crs", type=DATUM, default="wgs84", show_default=True,
              help="Datum of the file's coordinates; GCJ-02/BD-09 are converted to WGS84.")
@click.option("--dry-run", is_flag=True, help="Validate and report only; write nothing.")
@click.option("--replace", is_flag=True, help="Replace the whole registry instead of merging by id.")
@click.pass_context
def import_(ctx: click.Context, file: Path, crs: str, dry_run: bool, replace: bool) -> None:
    """Import facilities from CSV (UTF-8/BOM/GBK), XLSX or GeoJSON."""
    report = store(ctx).import_file(file, crs=crs, replace=replace, dry_run=dry_run)
    print_problems(report.problems)
    if report.errors:
        click.echo(f"refused: {len(report.errors)} problems in {report.file}; nothing was written", err=True)
        sys.exit(1)
    verb = "would add" if dry_run else "added"
    click.echo(f"{report.file}: {report.rows} rows; {verb} {report.added}, "
               f"{'would update' if dry_run else 'updated'} {report.updated}")


@click.command()
@click.pass_context
def validate(ctx: click.Context) -> None:
    """Check the working registry and print its counts (exit status 1 if it is invalid)."""
    from geo.registry import RegistryError

    registry_store = store(ctx)
    try:
        reg = registry_store.load()
    except RegistryError as exc:
        click.echo(f"INVALID: {exc}", err=True)
        print_problems(exc.problems)
        sys.exit(1)
    counts = reg.counts()
    click.echo(f"registry {registry_store.where}: OK, {counts['total']} facilities, no errors"
               + (" (SAMPLE DATA)" if reg.is_sample else ""))
    for kind, n in counts["by_kind"].items():
        click.echo(f"  {kind:12} {n:5}")
    click.echo(f"  24/7 stations {counts['stations_24_7']}")
    for status, n in counts["by_status"].items():
        click.echo(f"  status {status:20} {n:5}")


@click.command()
@param_options(EXPORT_CLI)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Output file.")
@click.pass_context
def export(ctx: click.Context, out: Path, **values) -> None:
    """Export the registry or the districts: GeoJSON (RFC 7946), CSV (UTF-8 BOM), GeoPackage or KML.

    The same bytes as GET /api/v1/export with the same options (the filters of the OGC items endpoint;
    layer districts takes --bbox and --district only).
    """
    from geo.export import export_registry
    from geo.query import FacilityFilter

    registry_store = store(ctx)
    layer = values["layer"]
    takes = EXPORT[layer].names
    extra = [name for name in given(EXPORT_CLI, values) if name not in takes]
    if extra:
        flags = ", ".join("--" + n.replace("_", "-") for n in takes if n != "layer")
        raise Failure(f"--{extra[0].replace('_', '-')} does not apply to --layer {layer} (it takes {flags})")
    o = parsed(EXPORT_CLI, values, lookups={"district": registry_store.districts.lookup})
    body, n = export_registry(registry_store.load(), registry_store.districts, o["format"], layer=layer,
                              flt=FacilityFilter.of(o), datum=o["crs"])  # crs with a format but csv: refused
    write_output(out, body)
    click.echo(f"wrote {n} {layer} to {out} ({o['format']})")


def point_options(f):
    """``--lon`` and ``--lat`` taken as given and checked by ``geo.params.parse_point``, as the API checks them:
    one line naming the problem (a swapped pair too), not click's range check and usage text."""
    for p in (LAT, LON):
        f = click.option(f"--{p.name}", p.name, required=True, metavar="FLOAT",
                         help=f"{p.description} {p.allowed()[0].upper()}{p.allowed()[1:]}.")(f)
    return f


@click.command()
@point_options
@param_options(NEAREST_CLI, skip=(LON.name, LAT.name))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def nearest(ctx, as_json, **values):
    """The nearest eligible facilities to a point (the options of GET /api/v1/nearest)."""
    import json

    from cli.table import nearest_table
    from geo import datum
    from geo.nearest import FacilityIndex, Travel

    settings(ctx)  # the region served (WORKERMAP_REGION): its bounds are the ones checked
    parse_point(values)  # first: a point outside the region, or swapped, is refused as the API refuses it
    o = parsed(NEAREST_CLI, values)
    wlon, wlat = datum.convert(o["lon"], o["lat"], src=o["crs"], dst="wgs84")
    reg = store(ctx).load()
    from geo.travel import TravelContext

    travel, context = Travel.from_settings(settings(ctx)), TravelContext.for_settings(settings(ctx))
    index = FacilityIndex(reg.facilities, travel=travel)
    res = index.query(wlon, wlat, k=o["k"], radius_m=o["radius_m"], kinds=o["kind"], amenities=o["amenity"],
                      worker=o["worker"], open_at=o["open_at"], include_closed=o["include_closed"],
                      open_24h=o["open_24h"], include_unknown_hours=o["include_unknown_hours"],
                      travel_model=o["travel"], context=context)
    described = context.describe(o["travel"], "walk", travel)
    if as_json:
        rows = [{"id": h.facility.id, "name": h.facility.name, "kind": h.facility.kind, "distance_m": h.distance_m,
                 "walk_min": h.walk_min, "ebike_min": h.ebike_min, "open_now": h.open_now,
                 "next_change": h.next_change.isoformat() if h.next_change else None,
                 "within_radius": h.within_radius, "lon": h.facility.lon, "lat": h.facility.lat}
                for h in res.hits]
        click.echo(json.dumps({"evaluated_at": res.at.isoformat(), "eligible": res.eligible, "travel": described,
                               "hits": rows}, ensure_ascii=False, indent=1))
        return
    click.echo(f"evaluated at {res.at:%Y-%m-%d %H:%M} (Qingdao); {res.eligible} eligible facilities"
               + ("; SAMPLE DATA" if reg.is_sample else "") + f"; travel: {described.get('rule') or o['travel']}")
    click.echo(nearest_table(res.hits))


@click.command()
@click.argument("query")
@param_options(SEARCH, skip=("q",))
@click.option("--json", "as_json", is_flag=True, help="Print the JSON of GET /api/v1/search instead of a table.")
@click.pass_context
def search(ctx, query, as_json, **values):
    """Find districts, townships, places and facilities by name (GET /api/v1/search?q=QUERY).

    Chinese, pinyin (tones and spaces optional) or English; small typos are forgiven.
    """
    import json

    from cli.table import table
    from geo.osm import landmark_entries
    from geo.regions import active_region, search_entries
    from geo.search import search_index
    from geo.store.knn import DbRegistry, uses_database

    o = parsed(SEARCH, {**values, "q": query})
    s, st, region = settings(ctx), store(ctx), active_region()
    # as the server's: a province's or the nation's registry is queried in the database, not loaded
    reg = DbRegistry.at_head(st) if uses_database(s.query_mode, st, region_level=region.level) else st.load()
    extra = [*search_entries(region, region.districts()), *landmark_entries(s)]
    results = search_index(reg, extra).search(o["q"], limit=o["limit"])
    if as_json:
        click.echo(json.dumps({"query": o["q"], "count": len(results), "results": [r.as_dict() for r in results]},
                              ensure_ascii=False, indent=1))
        return
    if not results:
        click.echo(f"nothing found for {o['q']!r}")
        return
    rows = [(str(n), r.type, r.name, r.name_en or "", r.district or "", f"{r.lon:.6f},{r.lat:.6f}", r.id or "",
             f"{r.score:.3f}") for n, r in enumerate(results, start=1)]
    click.echo(table(("#", "type", "name", "name_en", "district", "lon,lat (WGS84)", "id", "score"), rows,
                     right=(7,)))


@click.command("import-demand")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--cell-m", type=click.IntRange(50, 2000), default=250, show_default=True)
@click.pass_context
def import_demand(ctx: click.Context, file: Path, cell_m: int) -> None:
    """Replace the modelled demand grid with a population GeoTIFF or demand-points CSV (lon,lat,residents,workers)."""
    from geo import demand
    from geo.regions import active_region

    s = settings(ctx)
    districts = active_region().districts()
    read = demand.demand_from_raster if file.suffix.lower() in (".tif", ".tiff") else demand.demand_from_points_csv
    try:
        grid = read(file, districts, cell_m=cell_m)
    except (ValueError, OSError, ImportError) as exc:  # the reader's own messages; rasterio's are OSErrors
        raise Failure(f"cannot import demand: {exc}") from None
    out = s.imported_demand_path
    with writing(out):
        demand.save_demand(grid, out)
    totals = demand.district_totals(grid)
    click.echo(f"imported demand from {file.name}: {len(grid.x)} cells -> {out}")
    click.echo(totals.to_string())
