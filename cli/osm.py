"""OpenStreetMap extracts on the command line: ``workermap osm import FILE.osm.pbf [--clip-to-city]`` installs
an extract in ``<data_dir>/osm/`` (road graphs per mode, landmarks for place search, the street basemap; see
:mod:`geo.osm`), ``workermap osm info`` prints what is installed (its provenance). Bad input is one line, exit
status 2, and leaves the installed extract as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from cli.base import settings, writing


@click.group()
def osm():
    """OpenStreetMap extracts: import one (roads, landmarks, street basemap), show what is installed."""


@osm.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--clip-to-city", is_flag=True,
              help="Keep only what lies inside the city's district polygons (default: the file's whole extent).")
@click.option("--ferries", is_flag=True, help="Route over ferry lines too (route=ferry; left out by default).")
@click.option("--json", "as_json", is_flag=True, help="Print the provenance as JSON.")
@click.pass_context
def import_(ctx, file: Path, clip_to_city: bool, ferries: bool, as_json: bool) -> None:
    """Install the OpenStreetMap extract FILE (.osm.pbf), replacing the one installed (restart the server)."""
    from geo.errors import Unprocessable
    from geo.osm import import_extract, osm_dir

    s = settings(ctx)
    if not file.is_file():
        raise Unprocessable(f"cannot read {file}: {'not a file' if file.exists() else 'no such file'}")
    with writing(osm_dir(s)):
        prov = import_extract(s, file, clip_to_city=clip_to_city, ferries=ferries)
    for warning in prov.pop("warnings"):
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps(prov, ensure_ascii=False, indent=2))
        return
    click.echo(f"imported {prov['file']} -> {osm_dir(s)} (restart the server to use it)")
    _describe(prov)


@osm.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print the provenance as JSON.")
@click.pass_context
def info(ctx, as_json: bool) -> None:
    """Show the installed OpenStreetMap extract: file, checksum, OSM timestamp, graphs, landmarks, attribution."""
    from geo.osm import require_provenance

    prov = require_provenance(settings(ctx))
    if as_json:
        click.echo(json.dumps(prov, ensure_ascii=False, indent=2))
        return
    click.echo(f"file: {prov['file']} ({prov['size_bytes']:,} bytes, sha256 {prov['sha256']})")
    _describe(prov)


def _describe(prov: dict) -> None:
    click.echo(f"OSM data as of: {prov['osm_timestamp'] or 'unknown'}; imported {prov['imported_at']} "
               f"with {prov['reader']}")
    w, s, e, n = prov["bbox_wgs84"]
    where = "clipped to the city" if prov["clip_to_city"] else "the file's extent"
    click.echo(f"area: {where}, lon {w}–{e}, lat {s}–{n}")
    for mode, counts in prov["modes"].items():
        click.echo(f"{mode} graph: {counts['nodes']:,} nodes, {counts['edges']:,} directed edges")
    click.echo(f"landmarks: {prov['landmarks']:,}; street basemap: {prov['tiles'] or 'none'}")
    click.echo(f"attribution: {prov['attribution']} {prov['licence_url']}")
