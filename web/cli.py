"""The ``workermap`` command line: a thin interface over ``geo``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from geo.datum import DATUMS
from geo.export import DOWNLOAD_FORMATS
from geo.model import WORKER_TYPES
from geo.nearest import MAX_K
from geo.settings import Settings

DATUM_CHOICE = click.Choice(DATUMS)


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


def _store(settings: Settings):
    from geo.geography import load_districts
    from geo.store import open_store

    return open_store(settings, load_districts(settings.districts_path))


def _write_out(path: Path, data: bytes) -> None:
    """Write an output file atomically; a folder that cannot be written is one line, exit status 1."""
    from geo.atomic import atomic_write

    try:
        atomic_write(path, data)
    except OSError as exc:
        click.echo(f"error: cannot write {path}: {exc.strerror or exc}", err=True)
        sys.exit(1)


def _print_problems(problems, limit: int = 200) -> None:
    for p in problems[:limit]:
        where = f"row {p.row}" if p.row else "file"
        click.echo(f"  {p.severity.upper():7} {where}: {p.field}: {p.message}", err=True)
    if len(problems) > limit:
        click.echo(f"  … and {len(problems) - limit} more", err=True)


class _Group(click.Group):
    """Store errors (a database that cannot be opened or reached) as one line, exit status 2."""

    def invoke(self, ctx):
        from geo.store import StoreUnavailable

        try:
            return super().invoke(ctx)
        except StoreUnavailable as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="WORKERMAP_DATA_DIR",
              help="Working data directory (default: ./instance; env WORKERMAP_DATA_DIR).")
@click.option("--database-url", envvar="WORKERMAP_DATABASE_URL", default=None,
              help="Registry database: postgresql://user:password@host:port/db for PostgreSQL + PostGIS "
                   "(default: the GeoPackage <data-dir>/workermap.gpkg; env WORKERMAP_DATABASE_URL).")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None, database_url: str | None) -> None:
    """Qingdao worker service map."""
    ctx.ensure_object(dict)
    ctx.obj["settings"] = Settings.from_env(data_dir=data_dir, database_url=database_url)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--prod", is_flag=True, help="Run under gunicorn (see --worker-class).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="gunicorn worker processes (with --prod).")
@click.option("--worker-class", type=click.Choice(["gevent", "sync", "gthread"]), default="gevent",
              show_default=True, help="gunicorn worker type (with --prod): gevent = an event loop per worker, "
              "connections kept alive; sync = one request per connection; gthread = a thread pool.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Threads per worker (with --prod --worker-class gthread).")
@click.option("--no-access-log", is_flag=True, help="Turn gunicorn's access log off (with --prod).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, prod: bool, workers: int, worker_class: str, threads: int,
          no_access_log: bool) -> None:
    """Start the map server on the working registry."""
    import os

    from geo.registry import RegistryError

    settings = _settings(ctx)
    os.environ["WORKERMAP_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        os.environ["WORKERMAP_DATABASE_URL"] = settings.database_url
    store = _store(settings)
    try:  # refuse to start on an unusable registry, with the reasons, before any worker starts
        store.load()
    except RegistryError as exc:
        click.echo(f"error: cannot start: {exc}", err=True)
        _print_problems(exc.problems)
        sys.exit(2)
    if prod:
        from web.prod import run_gunicorn

        run_gunicorn(host=host, port=port, workers=workers, worker_class=worker_class, threads=threads,
                     access_log=None if no_access_log else "-")
        return
    from web import create_app

    app = create_app()
    click.echo(f"Serving on http://{host}:{port}/  (registry: {store.where})")
    app.run(host=host, port=port, debug=False, threaded=False)


@main.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output file (default: the shipped data/sample_facilities.geojson).")
@click.option("--seed", type=int, default=None, help="Random seed (default: the shipped seed).")
@click.pass_context
def sample(ctx: click.Context, out: Path | None, seed: int | None) -> None:
    """Generate the seeded sample registry (byte-identical for the same seed)."""
    import pandas as pd

    from geo.demand import load_demand
    from geo.geography import load_districts
    from geo.sample import SEED, generate_sample, sample_geojson

    settings = _settings(ctx)
    shipped = Path(settings.shipped_dir)
    grid = load_demand(shipped / "demand_grid_250m.csv.gz")
    townships = pd.read_csv(shipped / "reference" / "qingdao_townships.csv", dtype=str)
    facilities = generate_sample(grid, load_districts(settings.districts_path), townships,
                                 seed=SEED if seed is None else seed)
    out = out or settings.sample_path
    _write_out(out, sample_geojson(facilities))
    click.echo(f"wrote {len(facilities)} sample facilities to {out}")


@main.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--crs", type=DATUM_CHOICE, default="wgs84", show_default=True,
              help="Datum of the file's coordinates; GCJ-02/BD-09 are converted to WGS84.")
@click.option("--dry-run", is_flag=True, help="Validate and report only; write nothing.")
@click.option("--replace", is_flag=True, help="Replace the whole registry instead of merging by id.")
@click.pass_context
def import_(ctx: click.Context, file: Path, crs: str, dry_run: bool, replace: bool) -> None:
    """Import facilities from CSV (UTF-8/BOM/GBK), XLSX or GeoJSON."""
    report = _store(_settings(ctx)).import_file(file, crs=crs, replace=replace, dry_run=dry_run)
    _print_problems(report.problems)
    if report.errors:
        click.echo(f"refused: {len(report.errors)} problems in {report.file}; nothing was written", err=True)
        sys.exit(1)
    verb = "would add" if dry_run else "added"
    click.echo(f"{report.file}: {report.rows} rows; {verb} {report.added}, "
               f"{'would update' if dry_run else 'updated'} {report.updated}")


@main.command()
@click.pass_context
def validate(ctx: click.Context) -> None:
    """Check the working registry and print its counts."""
    from geo.registry import RegistryError

    store = _store(_settings(ctx))
    try:
        reg = store.load()
    except RegistryError as exc:
        click.echo(f"INVALID: {exc}", err=True)
        _print_problems(exc.problems)
        sys.exit(1)
    counts = reg.counts()
    click.echo(f"registry {store.where}: OK, {counts['total']} facilities, no errors"
               + (" (SAMPLE DATA)" if reg.is_sample else ""))
    for kind, n in counts["by_kind"].items():
        click.echo(f"  {kind:12} {n:5}")
    click.echo(f"  24/7 stations {counts['stations_24_7']}")
    for status, n in counts["by_status"].items():
        click.echo(f"  status {status:20} {n:5}")


@main.command()
@click.option("--format", "fmt", type=click.Choice(list(DOWNLOAD_FORMATS)), default="geojson",
              show_default=True)
@click.option("--layer", type=click.Choice(["facilities", "districts"]), default="facilities", show_default=True,
              help="Uncovered areas: `workermap gaps --out FILE` (any of these formats, by suffix).")
@click.option("--kind", multiple=True, help="Only these kinds (repeatable; facilities layer).")
@click.option("--crs", type=DATUM_CHOICE, default="wgs84", show_default=True,
              help="Add lon/lat columns in this datum (CSV only; geometry is always WGS84).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_context
def export(ctx: click.Context, fmt: str, layer: str, kind: tuple[str, ...], crs: str, out: Path) -> None:
    """Export the registry or the districts: GeoJSON (RFC 7946), CSV (UTF-8 BOM), GeoPackage or KML.

    The same bytes as GET /api/v1/export with the same options.
    """
    from geo.export import export_registry
    from geo.model import KINDS
    from geo.query import FacilityFilter

    bad = [k for k in kind if k not in KINDS]
    if bad:
        raise click.BadParameter(f"{bad[0]!r}; allowed: {', '.join(KINDS)}", param_hint="--kind")
    if crs != "wgs84" and fmt != "csv":
        raise click.BadParameter(f"{crs} columns exist in CSV only; {fmt} is always WGS84", param_hint="--crs")
    store = _store(_settings(ctx))
    flt = FacilityFilter(kinds=tuple(kind)) if kind else None
    body, n = export_registry(store.load(), store.districts, fmt, layer=layer, flt=flt, datum=crs)
    _write_out(out, body)
    click.echo(f"wrote {n} {layer} to {out} ({fmt})")


@main.command()
@click.option("--lon", type=float, required=True)
@click.option("--lat", type=float, required=True)
@click.option("-k", "k", type=click.IntRange(1, MAX_K), default=5, show_default=True)
@click.option("--radius-m", type=click.FloatRange(min=1), default=None)
@click.option("--kind", multiple=True, help="Any of these kinds (repeatable).")
@click.option("--amenity", multiple=True, help="All of these amenities (repeatable).")
@click.option("--worker", type=click.Choice(list(WORKER_TYPES)), default=None)
@click.option("--open-at", default="now", show_default=True,
              help="ISO date-time (Qingdao time unless an offset is given), 'now' or 'any'.")
@click.option("--include-closed", is_flag=True, help="Also show temporarily closed / maintenance sites.")
@click.option("--crs", type=DATUM_CHOICE, default="wgs84", show_default=True, help="Datum of --lon/--lat.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def nearest(ctx, lon, lat, k, radius_m, kind, amenity, worker, open_at, include_closed, crs, as_json):
    """The nearest eligible facilities to a point."""
    import json

    from geo import datum
    from geo.hours import parse_when
    from geo.model import AMENITIES, KINDS
    from geo.nearest import FacilityIndex, Travel
    from web.table import nearest_table

    for name, values, allowed in (("--kind", kind, KINDS), ("--amenity", amenity, AMENITIES)):
        bad = [v for v in values if v not in allowed]
        if bad:
            raise click.BadParameter(f"{bad[0]!r}; allowed: {', '.join(allowed)}", param_hint=name)
    try:
        when = parse_when(open_at)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--open-at") from None
    wlon, wlat = datum.convert(lon, lat, src=crs, dst="wgs84")
    s = _settings(ctx)
    reg = _store(s).load()
    index = FacilityIndex(reg.facilities, travel=Travel.from_settings(s))
    res = index.query(wlon, wlat, k=k, radius_m=radius_m, kinds=kind, amenities=amenity, worker=worker,
                      open_at=when, include_closed=include_closed)
    if as_json:
        rows = [{"id": h.facility.id, "name": h.facility.name, "kind": h.facility.kind, "distance_m": h.distance_m,
                 "walk_min": h.walk_min, "ebike_min": h.ebike_min, "open_now": h.open_now,
                 "next_change": h.next_change.isoformat() if h.next_change else None,
                 "within_radius": h.within_radius, "lon": h.facility.lon, "lat": h.facility.lat}
                for h in res.hits]
        click.echo(json.dumps({"evaluated_at": res.at.isoformat(), "eligible": res.eligible, "hits": rows},
                              ensure_ascii=False, indent=1))
        return
    click.echo(f"evaluated at {res.at:%Y-%m-%d %H:%M} (Qingdao); {res.eligible} eligible facilities"
               + ("; SAMPLE DATA" if reg.is_sample else ""))
    click.echo(nearest_table(res.hits))


@main.command("import-demand")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--cell-m", type=click.IntRange(50, 2000), default=250, show_default=True)
@click.pass_context
def import_demand(ctx: click.Context, file: Path, cell_m: int) -> None:
    """Replace the modelled demand grid with a population GeoTIFF or demand-points CSV (lon,lat,residents,workers)."""
    from geo import demand
    from geo.geography import load_districts

    settings = _settings(ctx)
    districts = load_districts(settings.districts_path)
    if file.suffix.lower() in (".tif", ".tiff"):
        grid = demand.demand_from_raster(file, districts, cell_m=cell_m)
    else:
        grid = demand.demand_from_points_csv(file, districts, cell_m=cell_m)
    out = settings.imported_demand_path
    out.parent.mkdir(parents=True, exist_ok=True)
    demand.save_demand(grid, out)
    totals = demand.district_totals(grid)
    click.echo(f"imported demand from {file.name}: {len(grid.x)} cells -> {out}")
    click.echo(totals.to_string())


def _register_extra_commands() -> None:
    from web import cli_admin, cli_plan

    for command in cli_admin.COMMANDS + cli_plan.COMMANDS:
        main.add_command(command)


_register_extra_commands()
