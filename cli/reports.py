"""Worker reports for admins: the queue (``workermap reports list``) and resolving one, optionally with an
edit of its facility written in the same transaction (``workermap reports resolve ID --set status=…``).

The options come from the declarations the admin API parses with (``geo.report_params``: QUEUE, RESOLVE;
the edit's ``--crs`` from ``geo.registry_params.FACILITY_BODY``), and the commands call the same
``geo.reports.Reports`` methods as ``/api/v1/admin/reports``: a refusal is the API's, as one line (exit 2).
"""

from __future__ import annotations

import json

import click

from cli.base import actor, param_options, parsed, store
from cli.table import table
from geo.registry_params import FACILITY_BODY, MAX_VERSION
from geo.report_params import QUEUE, RESOLVE

#: How much of a report's text the table shows (``--json`` gives all of it).
TEXT_COLUMNS = 40


def _inert(text: str | None, width: int = TEXT_COLUMNS) -> str:
    """One line of plain text for a terminal: control characters (escape sequences, newlines) become spaces."""
    flat = "".join(" " if not ch.isprintable() else ch for ch in (text or ""))
    return flat if len(flat) <= width else flat[:width - 1] + "…"


@click.group()
def reports():
    """Worker reports: list the queue, resolve a report (optionally editing its facility)."""


@reports.command("list")
@param_options(QUEUE)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (every field, the whole text).")
@click.pass_context
def list_(ctx, as_json, **values):
    """List reports, newest first (the open ones unless --status says otherwise)."""
    from geo.reports import Reports

    v = parsed(QUEUE, values)
    registry_store = store(ctx)
    rows = Reports(registry_store).queue(registry_store.load(), status=v["status"], limit=v["limit"])
    if as_json:
        for r in rows:
            click.echo(json.dumps(r, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"no {'' if v['status'] == 'all' else v['status'] + ' '}reports")
        return
    click.echo(table(["id", "created_at", "kind", "facility", "status", "text"], [
        [str(r["id"]), r["created_at"][:16].replace("T", " "), r["kind"],
         _inert(r["facility_id"] or f"{r['lon']:.5f},{r['lat']:.5f}", 24), r["status"], _inert(r["text"])]
        for r in rows], right=(0,)))


@reports.command("resolve")
@click.argument("report_id", type=click.IntRange(1, MAX_VERSION))
@param_options(RESOLVE, skip=("edit",))
@click.option("--set", "changes", multiple=True, metavar="FIELD=VALUE",
              help="Edit the reported facility (for a new_site report: create one at the suggested place) in the "
                   "same transaction, e.g. --set status=temporarily_closed. Repeatable.")
@param_options(FACILITY_BODY)
@click.pass_context
def resolve(ctx, report_id, changes, **values):
    """Resolve report REPORT_ID (a number from `workermap reports list`)."""
    from geo.reports import Reports

    edit = {}
    for item in changes:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}; use field=value", param_hint="--set")
        edit[key] = value
    given = parsed(FACILITY_BODY, values)
    if edit and ctx.get_parameter_source("crs") != click.core.ParameterSource.DEFAULT:
        edit["crs"] = given["crs"]
    note = parsed(RESOLVE, values)["note"]
    registry_store = store(ctx)
    report, facility, _ = Reports(registry_store).resolve(report_id, actor=actor(), note=note, edit=edit or None,
                                                          districts=registry_store.districts)
    done = f"resolved report {report['id']}"
    if facility is not None:
        done += f"; {'created' if report['kind'] == 'new_site' else 'updated'} {facility['id']}"
    click.echo(done)
