"""The ``workermap`` command line: a thin interface over ``geo``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from geo.settings import Settings

DATUM_CHOICE = click.Choice(["wgs84", "gcj02", "bd09"])


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


def _store(settings: Settings):
    from geo.geography import load_districts
    from geo.registry import RegistryStore

    return RegistryStore(settings.registry_path, load_districts(settings.districts_path),
                         seed_from=settings.sample_path)


def _print_problems(problems, limit: int = 200) -> None:
    for p in problems[:limit]:
        where = f"row {p.row}" if p.row else "file"
        click.echo(f"  {p.severity.upper():7} {where}: {p.field}: {p.message}", err=True)
    if len(problems) > limit:
        click.echo(f"  … and {len(problems) - limit} more", err=True)


@click.group()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="WORKERMAP_DATA_DIR",
              help="Working data directory (default: ./instance; env WORKERMAP_DATA_DIR).")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    """Qingdao worker service map."""
    ctx.ensure_object(dict)
    ctx.obj["settings"] = Settings.from_env(data_dir=data_dir)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--prod", is_flag=True, help="Run under gunicorn (sync workers).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, prod: bool, workers: int) -> None:
    """Start the map server on the working registry."""
    import os

    settings = _settings(ctx)
    os.environ["WORKERMAP_DATA_DIR"] = str(settings.data_dir)
    if prod:
        from web.prod import run_gunicorn

        run_gunicorn(host=host, port=port, workers=workers)
        return
    from web import create_app

    from geo.registry import RegistryError

    try:
        app = create_app()
    except RegistryError as exc:
        click.echo(f"error: {exc}", err=True)
        _print_problems(exc.problems)
        sys.exit(2)
    click.echo(f"Serving on http://{host}:{port}/  (registry: {settings.registry_path})")
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
    out.write_bytes(sample_geojson(facilities))
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
    click.echo(f"registry {store.path}: OK, {counts['total']} facilities, no errors"
               + (" (SAMPLE DATA)" if reg.is_sample else ""))
    for kind, n in counts["by_kind"].items():
        click.echo(f"  {kind:12} {n:5}")
    click.echo(f"  24/7 stations {counts['stations_24_7']}")
    for status, n in counts["by_status"].items():
        click.echo(f"  status {status:20} {n:5}")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["geojson", "csv", "gpkg"]), default="geojson",
              show_default=True)
@click.option("--kind", multiple=True, help="Only these kinds (repeatable).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.pass_context
def export(ctx: click.Context, fmt: str, kind: tuple[str, ...], out: Path) -> None:
    """Export the registry as GeoJSON (RFC 7946), CSV (UTF-8 BOM) or GeoPackage."""
    from geo.export import write_export
    from geo.model import KINDS

    bad = [k for k in kind if k not in KINDS]
    if bad:
        raise click.BadParameter(f"{bad[0]!r}; allowed: {', '.join(KINDS)}", param_hint="--kind")
    reg = _store(_settings(ctx)).load()
    selected = reg.select(kinds=kind or None, include_removed=True)
    write_export(selected, out, fmt, meta={"sample": reg.is_sample, "count": len(selected)})
    click.echo(f"wrote {len(selected)} facilities to {out} ({fmt})")


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
    out = Path(settings.data_dir) / "demand_grid.csv.gz"
    out.parent.mkdir(parents=True, exist_ok=True)
    demand.save_demand(grid, out)
    totals = demand.district_totals(grid)
    click.echo(f"imported demand from {file.name}: {len(grid.x)} cells -> {out}")
    click.echo(totals.to_string())


if __name__ == "__main__":  # pragma: no cover
    main()
