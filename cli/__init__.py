"""The ``workermap`` command line: a thin interface over ``geo`` (and ``web`` to serve and to write the report).

Commands live in modules by family and are all registered here, in :data:`COMMANDS`:

* :mod:`cli.registry` — serve, validate, import, export, sample, import-demand, nearest, search
* :mod:`cli.admin` — token (add, revoke, list), edit, remove, history, restore, audit
* :mod:`cli.planner` — gaps, plan, whatif, report
* :mod:`cli.reports` — reports (list, resolve): the worker reports queue
* :mod:`cli.usage` — access (E2SFCA), usage (import, show), recommend
* :mod:`cli.osm` — osm (import, info): an OpenStreetMap extract

:mod:`cli.base` holds what they share (the global options ``--data-dir`` and ``--database-url``,
accepted before or after the command name; the settings and store; errors as one line, exit
status 2), :mod:`cli.choices` the option choices read from the geo tables on first use, and
:mod:`cli.table` the terminal tables. Importing this package imports nothing heavy (numpy,
geopandas, shapely, flask …): each command imports what it needs, so ``--help`` answers at once.
"""

from __future__ import annotations

import click

from cli import admin, osm, planner, registry, reports, usage
from cli.base import WorkermapGroup

__all__ = ["COMMANDS", "main"]

COMMANDS: tuple[click.Command, ...] = (
    registry.serve, registry.validate, registry.import_, registry.export, registry.sample, registry.import_demand,
    registry.nearest, registry.search,
    admin.token, admin.edit, admin.remove, admin.history, admin.restore, admin.audit,
    planner.gaps, planner.plan, planner.whatif, planner.report,
    usage.access, usage.usage, usage.recommend,
    reports.reports,
    osm.osm,
)


@click.group(cls=WorkermapGroup, commands=COMMANDS)
def main() -> None:
    """Qingdao worker service map.

    --data-dir and --database-url may be given before the command name or after it.
    """
