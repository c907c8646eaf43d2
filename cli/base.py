"""What every command shares: the global options, the settings and store they name, and errors as one line.

* ``--data-dir`` and ``--database-url`` are accepted before the command name and after it
  (``workermap --data-dir D validate``, ``workermap validate --data-dir D``,
  ``workermap token add NAME --data-dir D``): :class:`WorkermapGroup` adds them to every
  command it holds. The last one given wins; one given on the command line beats the environment.
* The settings are built from them on first use (:func:`settings`), after the command line is parsed.
* Domain errors (:class:`geo.errors.DomainError`: a bad parameter, an unreachable database, a plan that
  cannot be made …) are one line on stderr (a registry error adds its problems, one per line) and exit
  status 2, never a traceback: :class:`WorkermapGroup` turns them into a :class:`Failure`. So are
  output files that cannot be written (:func:`writing`).

Nothing heavy is imported here: the command that needs numpy, geopandas or flask imports it.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import click

from cli.choices import LazyChoice

__all__ = ["Failure", "WorkermapGroup", "actor", "print_problems", "settings", "store", "write_output", "writing"]

_OPTIONS = "workermap.options"  # ctx.meta (shared by every context of one invocation): the global options given
_SETTINGS = "workermap.settings"

GLOBAL_OPTIONS = {
    "data_dir": dict(param_decls=["--data-dir"], metavar="DIR", envvar="WORKERMAP_DATA_DIR",
                     type=click.Path(file_okay=False, path_type=Path),
                     help="Working data directory (default: ./instance; env WORKERMAP_DATA_DIR)."),
    "database_url": dict(param_decls=["--database-url"], metavar="URL", envvar="WORKERMAP_DATABASE_URL",
                         help="Registry database: postgresql://user:password@host:port/db for PostgreSQL + PostGIS "
                              "(default: the GeoPackage workermap.gpkg in the data directory; "
                              "env WORKERMAP_DATABASE_URL)."),
}


def _remember(ctx: click.Context, param: click.Parameter, value):
    if value is not None:  # given here (or, on the group, in the environment): overrides what came before
        ctx.meta.setdefault(_OPTIONS, {})[param.name] = value
    return value


def _global_options(*, envvar: bool) -> list[click.Option]:
    """The global options; the environment is read once, by the group's copy (``envvar=True``)."""
    out = []
    for name, spec in GLOBAL_OPTIONS.items():
        spec = dict(spec)
        decls = spec.pop("param_decls")
        if not envvar:
            spec.pop("envvar")
        out.append(click.Option([*decls, name], expose_value=False, callback=_remember, **spec))
    return out


def _add_global_options(command: click.Command) -> None:
    if not any(p.name in GLOBAL_OPTIONS for p in command.params):
        command.params.extend(_global_options(envvar=False))
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _add_global_options(sub)


class Failure(click.ClickException):
    """A one-line error (``error: …`` on stderr, exit status 2), optionally with a registry's problems."""

    exit_code = 2

    def __init__(self, message: str, problems: Sequence = ()):
        super().__init__(message)
        self.problems = problems

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)
        print_problems(self.problems)


def _as_failure(exc: Exception, command: click.Command | None) -> Failure | None:
    """The :class:`Failure` for a domain error (:class:`geo.errors.DomainError`), else None (a bug: let it show)."""
    from geo.errors import DomainError, ParameterError  # light: no third-party imports

    read_error = getattr(sys.modules.get("geo.tabular"), "ReadError", None)  # a file that cannot be read at all
    if read_error is not None and isinstance(exc, read_error):
        return Failure(str(exc))
    if not isinstance(exc, DomainError):
        return None
    if isinstance(exc, ParameterError):
        option = _option(command, exc.parameter.split("[")[0])  # "add[2]": the third --add
        if exc.code == "missing_parameter":
            return Failure(exc.message)
        return Failure(f"invalid value for {option}: {exc.one_line()}" if option else exc.one_line())
    # geo.siting is imported by then if it raised (looking it up does not import numpy for other errors)
    siting = getattr(sys.modules.get("geo.siting"), "SitingError", None)
    prefix = "cannot plan: " if siting is not None and isinstance(exc, siting) else ""

    def spelling(name: str, value: str | None) -> str:  # the parameters a message names, as this command's flags
        flag = _option(command, name) or "--" + name.replace("_", "-")
        return flag if value is None else f"{flag} {value}"

    return Failure(prefix + exc.one_line(spelling), getattr(exc, "problems", ()))


def _option(command: click.Command | None, name: str) -> str | None:
    """The flag of ``command`` for the parameter ``name`` (None if it has none)."""
    flag = "--" + name.replace("_", "-")
    return next((p.opts[0] if flag not in p.opts else flag for p in getattr(command, "params", ())
                 if p.name == name or flag in p.opts), None)


class WorkermapGroup(click.Group):
    """The ``workermap`` group: global options on every command, domain errors as one line (exit status 2)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params.extend(_global_options(envvar=True))
        for command in self.commands.values():
            _add_global_options(command)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        _add_global_options(cmd)
        super().add_command(cmd, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # in the order registered (by family), not sorted

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            failure = _as_failure(exc, self.commands.get(ctx.invoked_subcommand or ""))
            if failure is None:
                raise
            raise failure from None


def settings(ctx: click.Context):
    """The :class:`geo.settings.Settings` the global options and the environment name (built once)."""
    if _SETTINGS not in ctx.meta:
        from geo.settings import Settings

        given = ctx.meta.get(_OPTIONS, {})
        try:
            ctx.meta[_SETTINGS] = Settings.from_env(data_dir=given.get("data_dir"),
                                                    database_url=given.get("database_url"))
        except ValueError as exc:
            raise Failure(f"a WORKERMAP_* setting in the environment is not a number: {exc}") from None
        from geo.regions import RegionError, activate, region_for

        try:  # WORKERMAP_REGION: the one region this command works in (bounds, districts)
            activate(region_for(ctx.meta[_SETTINGS]))
        except RegionError as exc:
            raise Failure(str(exc)) from None
    return ctx.meta[_SETTINGS]


def store(ctx: click.Context):
    """The registry store the settings name (nothing is opened until it is used)."""
    from geo.regions import active_region
    from geo.store import open_store

    s = settings(ctx)
    return open_store(s, active_region().districts())


@contextmanager
def writing(path: Path):
    """Output files that cannot be written are one line (exit status 2), not a traceback."""
    try:
        yield
    except FileExistsError as exc:  # making the folder: a file of that name is in the way
        raise Failure(f"cannot write {path}: {exc.filename} is a file, not a folder") from None
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
        raise Failure(f"cannot write {path}: {exc.strerror or exc}{where}") from None


def write_output(path: Path, data: bytes) -> None:
    """Write an output file atomically (see :mod:`geo.atomic`)."""
    from geo.atomic import atomic_write

    with writing(path):
        atomic_write(path, data)


def print_problems(problems: Sequence, limit: int = 200) -> None:
    """A registry's or an import's problems on stderr, one per line."""
    for p in problems[:limit]:
        where = f"row {p.row}" if p.row else "file"
        click.echo(f"  {p.severity.upper():7} {where}: {p.field}: {p.message}", err=True)
    if len(problems) > limit:
        click.echo(f"  … and {len(problems) - limit} more", err=True)


def actor() -> str:
    """Who writes, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def param_options(params, *, skip: Sequence[str] = (), flags: Mapping[str, Sequence[str]] | None = None):
    """click options made from declared parameters (``geo.params``): the flag, type, range, choices,
    default and help all come from the declaration, as the API's validation and OpenAPI text do.

    ``flags``: other flag names for some parameters (``{"demand": ["--demand", "--rank-by"]}``; the
    first is the one named in errors); by default ``--name-with-dashes`` (``-k`` for ``k``). Structured
    (``json``) parameters need an option of their own: give them in ``skip``.

    The command passes what click parsed through :func:`parsed` (the same checks and conversions as the API:
    ``open_at`` becomes a time, a bad value is the API's one-line error). An option left out is absent there,
    as a query parameter left out is (click's default only shows in the help), so the declared default
    applies and the rules between parameters (``minutes`` or ``threshold_m``, not both) see what was given.
    """
    flags = dict(flags or {})

    def decorate(f):
        for p in reversed([p for p in params if p.name not in skip]):
            if p.type == "json":
                raise TypeError(f"{p.name} is structured: declare its option by hand and skip it here")
            names = list(flags.get(p.name) or ["-k" if p.name == "k" else "--" + p.name.replace("_", "-")])
            kw: dict = {"help": p.description, "required": p.required}
            if p.type == "integer":
                kw["type"] = click.IntRange(p.lo, p.hi)
            elif p.type == "number":
                kw["type"] = click.FloatRange(p.lo, p.hi)
            elif p.type == "boolean":
                kw["is_flag"] = True
            elif p.type in ("enum", "enum_list"):
                if p.lookup:  # values known when the command runs (the districts): checked by parsed()
                    kw["metavar"] = "TEXT"
                else:  # a "module:NAME" table is read when click first needs it (cli.choices)
                    kw["type"] = (LazyChoice(p.values) if isinstance(p.values, str)
                                  else click.Choice(p.allowed_values()))
                kw["multiple"] = p.type == "enum_list"
                if kw["multiple"]:
                    kw["help"] += " Repeatable."
            elif p.type == "numbers":
                kw["metavar"] = ",".join(["N"] * min(p.count or (2,)))
            if p.default not in (None, (), False):
                kw.update(default=p.default, show_default=True)
            f = click.option(*names, p.name, **kw)(f)
        return f

    return decorate


def parsed(params, values: dict, *, lookups: Mapping[str, Mapping] | None = None) -> dict:
    """The declared parameters' values from what click parsed, checked and converted as the API does
    (``lookups``: the values of ``lookup`` parameters, see ``geo.params.Param``)."""
    return params.parse(given(params, values), check_unknown=False, lookups=lookups)


def given(params, values: dict) -> dict:
    """What the command line gave for the declared parameters (as a query string would give them): not the
    defaults click filled in."""
    ctx = click.get_current_context(silent=True)

    def defaulted(name: str) -> bool:
        return ctx is not None and ctx.get_parameter_source(name) == click.core.ParameterSource.DEFAULT

    return {name: (list(v) if isinstance(v, tuple) else v) for name, v in values.items()
            if name in params.by_name and v is not None and v != () and not defaulted(name)}
