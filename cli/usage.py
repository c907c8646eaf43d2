"""Capacity-aware access, usage and recommendations on the command line: ``access``, ``usage import|show``,
``recommend``.

Options come from the declarations the API parses with (:mod:`geo.planner_params`: ACCESS, USAGE, RECOMMEND) and
the commands call the same :mod:`geo.access`, :mod:`geo.usage` and :mod:`geo.recommend` functions as
``GET /api/v1/access``, ``/usage`` and ``/recommendations``, so ``--json`` prints what the API answers::

    workermap access --mode ebike --minutes 10 --decay step --out cells.csv
    workermap usage import visits_2026-11.xlsx
    workermap usage show --district 市南区
    workermap recommend --night-share 0.3 --underused 0.05

A usage file with any problem is refused whole: every problem on stderr with its row, nothing written, exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from cli.base import actor, given, param_options, parsed, print_problems, settings, store, write_output
from cli.planner import _Context, _own_options
from geo.planner_params import ACCESS, RECOMMEND, USAGE

__all__ = ["access", "recommend", "usage"]


def _num(v, fmt: str = ",.1f") -> str:
    return "–" if v is None else format(v, fmt)


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def _usage_line(u: dict) -> str:
    period = f"{u['first_day']} – {u['last_day']}" if u["first_day"] else "no period"
    return f"usage: {u['source']}, {u['rows']:,} rows, {period}{'; SYNTHETIC' if u['synthetic'] else ''}"


# --------------------------------------------------------------------------- access


@click.command()
@param_options(ACCESS)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write every cell (of --district) with its demand and access as CSV (UTF-8 BOM).")
@_own_options
@click.pass_context
def access(ctx: click.Context, out: Path | None, **values):
    """Capacity-aware access (E2SFCA): places per person in reach, by district, and the shortage areas
    (GET /api/v1/access)."""
    from cli.table import table
    from geo import access as core

    c = _Context(ctx, ACCESS, values)
    opts = core.access_options(c.data, ACCESS, given(ACCESS, values), check_unknown=False)
    payload = core.access_payload(c.data, opts)
    if out is not None:
        write_output(out, core.cells_csv(c.data, opts))
    if c.as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, indent=1))
        return
    a = payload["assumptions"]
    c.header()
    click.echo(f"E2SFCA: catchment {a['catchment_m']:,.0f} route m ({c.opts.threshold.label}), decay {a['decay']} "
               f"({a['decay_rule']}); demand {a['demand']}")
    imputed = ("every facility has a capacity" if not a["capacity_imputed"] else
               f"{a['capacity_imputed']} without a capacity counted as their kind's median: "
               + ", ".join(f"{k} {v}" for k, v in a["imputed_places"].items()))
    click.echo(f"places: {a['places']:,.0f} ({imputed}); shortage above {a['max_demand_per_place']:g} "
               f"{a['demand']} per place ({a['max_demand_per_place_rule']})")
    click.echo("")
    click.echo(table(["district", "demand", "in_reach", "places", "places_per_1000", "demand_per_place",
                      "shortage_%", "places_needed"],
                     [[r["name"], _num(r["demand"], ",.0f"), _num(r["demand_in_reach"], ",.0f"),
                       _num(r["places"], ",.0f"), _num(r["places_per_1000"], ".2f"), _num(r["demand_per_place"]),
                       _num(r["shortage_pct"], ".1f"), str(r["places_needed"])]
                      for r in [payload["city"], *payload["districts"]]], right=(1, 2, 3, 4, 5, 6, 7)))
    areas = [f["properties"] for f in payload["shortage"]["features"]]
    click.echo("")
    click.echo("shortage areas (most places needed first):")
    click.echo(table(["#", "district", "place", "km2", "demand", "per_place", "places_needed", "add at"],
                     [[str(s["rank"]), s["district"], s["place"] or "", f"{s['area_km2']:.2f}",
                       _num(s["demand"], ",.0f"), _num(s["demand_per_place"]), str(s["places_needed"]),
                       (s["facility"] or {}).get("name", "")] for s in areas], right=(0, 3, 4, 5, 6))
               if areas else "none: no cell's demand per place exceeds the threshold")
    if out is not None:
        click.echo(f"wrote the cells to {out}")


# --------------------------------------------------------------------------- usage


@click.group()
def usage():
    """Facility usage (visits per day or hour): import a file, show utilisation, busiest hours and night use."""


@usage.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Replace every stored usage row (default: only the rows of the "
                                              "facilities and dates the file gives).")
@click.option("--dry-run", is_flag=True, help="Validate and report only; write nothing.")
@click.pass_context
def import_(ctx: click.Context, file: Path, replace: bool, dry_run: bool):
    """Import visits from CSV (UTF-8/BOM/GBK) or XLSX: 设施编号/facility_id, 日期/date, 小时/hour (optional),
    人次/visits, 样例/sample (optional)."""
    from geo.usage import UsageStore

    report = UsageStore(store(ctx)).import_file(file, actor=actor(), replace=replace, dry_run=dry_run)
    print_problems(report.problems)  # warnings (errors refuse the file: one line and the problems, exit 2)
    verb = "would store" if dry_run else "stored"
    click.echo(f"{report.file}: {report.rows:,} rows; {verb} {report.stored:,} rows for {report.facilities} "
               f"facilities, {report.first_day} – {report.last_day}"
               + (" (SYNTHETIC sample rows)" if report.synthetic else ""))


@usage.command("show")
@param_options(USAGE)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (GET /api/v1/usage) instead of tables.")
@click.pass_context
def show(ctx: click.Context, as_json: bool, **values):
    """Utilisation against capacity, busiest hours and night use (GET /api/v1/usage)."""
    from cli.table import table
    from geo import city_planner
    from geo import usage as core
    from geo.regions import active_region

    registry_store = store(ctx)
    values = parsed(USAGE, values)
    region = active_region()
    city, _ = city_planner.resolve_city(region, values["city"])  # a bad --city: one line, exit 2
    registry = registry_store.load()
    districts, facilities, whole = registry_store.districts, registry.facilities, None
    if city_planner.needs_city(region):  # a province or the nation: the city's facilities and counties (as the API)
        scope = city_planner.city_data(city, registry, settings(ctx))
        districts, facilities, whole = scope.districts, scope.index.facilities, scope.prepared.scope
    flt = core.usage_filter(districts, values, whole)
    data = core.current_usage(registry_store, registry, settings(ctx).shipped_dir)
    payload = core.usage_payload(data, facilities, districts, flt, sample=registry.is_sample, scope=whole)
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, indent=1))
        return
    click.echo(_usage_line(payload["usage"]))
    click.echo(f"note: {payload['usage']['note']}")
    click.echo("")
    click.echo(table(["district", "facilities", "visits/day", "utilisation_%", "night_%", "peak"],
                     [[r["name"], str(r["facilities"]), _num(r["visits_per_day"]), _pct(r["utilisation"]),
                       _pct(r["night_share"]), r["peak_hour"] or "–"]
                      for r in [payload["city"], *payload["districts"]]], right=(1, 2, 3, 4)))
    busiest = [h for h in sorted(payload["hours"], key=lambda h: -h["visits_per_day"])[:3] if h["visits_per_day"] > 0]
    if busiest:
        click.echo("busiest hours: " + ", ".join(f"{h['hour']} ({h['visits_per_day']:,.0f} a day)" for h in busiest))
    rows = payload["facilities"]
    click.echo("")
    click.echo(f"facilities by utilisation ({len(rows)}" + ("; the 15 busiest and the 15 quietest):" if len(rows) > 30
                                                          else "):"))
    shown = rows if len(rows) <= 30 else rows[:15] + rows[-15:]
    click.echo(table(["id", "name", "capacity", "visits/day", "utilisation_%", "peak", "peak_%", "night_%"],
                     [[r["id"], r["name"], _num(r["capacity"], "d"), _num(r["visits_per_day"]), _pct(r["utilisation"]),
                       r["peak_hour"] or "–", _pct(r["peak_utilisation"]), _pct(r["night_share"])] for r in shown],
                     right=(2, 3, 4, 6, 7)) if rows else "no usage in the period")


# --------------------------------------------------------------------------- recommend


@click.command()
@param_options(RECOMMEND)
@_own_options
@click.pass_context
def recommend(ctx: click.Context, **values):
    """What to do where, and why: 24-hour opening, merging or relocating under-used facilities, adding places
    (GET /api/v1/recommendations)."""
    from cli.table import table
    from geo import recommend as core
    from geo.usage import current_usage

    c = _Context(ctx, RECOMMEND, values)
    opts = core.recommend_options(c.data, RECOMMEND, given(RECOMMEND, values), check_unknown=False)
    data = current_usage(store(ctx), c.registry, settings(ctx).shipped_dir)
    payload = core.recommendations(c.data, opts, data)
    if c.as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, indent=1))
        return
    c.header()
    click.echo(_usage_line(payload["usage"]))
    if payload["usage"]["synthetic"]:
        click.echo(f"note: {payload['usage']['note']}")
    counts = payload["counts"]
    click.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))
    click.echo("")
    items = payload["recommendations"]
    click.echo(table(["#", "action", "where", "why"],
                     [[str(i["rank"]), i["action"], (i["facility"] or {}).get("name") or (i["target"] or {}).get(
                         "place") or "", i["reason"]] for i in items], right=(0,))
               if items else "nothing to recommend with these thresholds")
