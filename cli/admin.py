"""Admin commands: tokens for the write API, single-record edits, history and restore, the audit log."""

from __future__ import annotations

import json
import sys

import click

from cli.base import actor, print_problems, store
from cli.choices import LazyChoice


@click.group()
def token():
    """Manage admin tokens for the write API (stored hashed in the registry database)."""


def _tokens(ctx):
    from geo.store.tokens import TokenStore

    return TokenStore(store(ctx))


@token.command("add")
@click.argument("name")
@click.pass_context
def token_add(ctx, name):
    """Create a token; it is printed once and stored only as a hash."""
    try:
        value = _tokens(ctx).add(name, actor=actor())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from None
    click.echo(value)


@token.command("revoke")
@click.argument("name")
@click.pass_context
def token_revoke(ctx, name):
    """Revoke a token: requests with it are refused from now on."""
    try:
        _tokens(ctx).revoke(name, actor=actor())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from None
    click.echo(f"revoked {name}")


@token.command("list")
@click.pass_context
def token_list(ctx):
    """List the tokens by name (never their values)."""
    for e in _tokens(ctx).entries():
        click.echo(f"{e['name']:20} {'revoked' if e.get('revoked') else 'active':8} created {e.get('created', '')}")


def _write(ctx, change_for, action, facility_id):
    """One audited write; a refused one prints the reasons and exits with status 1."""
    from geo.registry import RegistryError

    registry_store = store(ctx)
    try:
        registry_store.update(lambda reg: reg.merged([change_for(reg, registry_store)]), actor=actor(),
                              action=action, facility_id=facility_id)
    except RegistryError as exc:
        click.echo(f"refused: {exc}", err=True)
        print_problems(exc.problems)
        sys.exit(1)


def _current(reg, facility_id):
    from geo.registry import RegistryError

    current = reg.get(facility_id)
    if current is None:
        raise RegistryError(f"no facility with id {facility_id!r}")
    return current


@click.command()
@click.argument("facility_id")
@click.argument("changes", nargs=-1, required=True)
@click.option("--crs", type=LazyChoice("geo.vocab:DATUMS"), default="wgs84", show_default=True,
              help="Datum of a new lon/lat.")
@click.pass_context
def edit(ctx, facility_id, changes, crs):
    """Change fields of one facility: workermap edit ID status=maintenance opening_hours='Mo-Fr 08:00-18:00'."""
    from geo.edits import patched

    values = {}
    for item in changes:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}; use field=value", param_hint="CHANGES")
        values[key] = value
    _write(ctx, lambda reg, s: patched(_current(reg, facility_id), values, s.districts, crs=crs), "update",
           facility_id)
    click.echo(f"updated {facility_id}")


@click.command()
@click.argument("facility_id")
@click.pass_context
def remove(ctx, facility_id):
    """Mark a facility removed (kept in history, never shown)."""
    _write(ctx, lambda reg, s: _current(reg, facility_id).replace(status="removed"), "remove", facility_id)
    click.echo(f"removed {facility_id}")


@click.command()
@click.pass_context
def history(ctx):
    """List the registry versions (restore one with `workermap restore N`)."""
    for v in store(ctx).versions():
        click.echo(f"{v['version']:6}  {v['time']}  {v['actor']:16} {v['action']:14} {v['id'] or '':20} "
                   f"{v['count']} facilities")


@click.command()
@click.argument("version", type=click.IntRange(min=1))
@click.pass_context
def restore(ctx, version):
    """Make an earlier version (a number from `workermap history`) current again, as a new version."""
    from geo.registry import RegistryError

    try:
        after = store(ctx).restore(version, actor=actor())
    except RegistryError as exc:
        click.echo(f"refused: {exc}", err=True)
        sys.exit(1)
    click.echo(f"restored {version}: {len(after)} facilities")


@click.command()
@click.option("--limit", type=click.IntRange(1, 100_000), default=20, show_default=True)
@click.pass_context
def audit(ctx, limit):
    """Print the last audit-log entries (JSON lines)."""
    for e in store(ctx).audit_entries(limit=limit):
        click.echo(json.dumps(e, ensure_ascii=False))
