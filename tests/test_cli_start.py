"""The command line starts at once: importing ``cli`` (and every ``--help``) imports nothing heavy, and the
choices it lists still come from the geo tables. (Start-up times are measured in bench/, not asserted here.)"""

from __future__ import annotations

import doctest
import importlib
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

import cli
from cli import COMMANDS, main
from cli.choices import NOT_LITERAL, LazyChoice, literal_table

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "pandas", "geopandas", "shapely", "pyproj", "pyogrio", "rtree", "scipy", "flask", "folium",
         "jinja2", "gunicorn", "gevent", "psycopg", "web")


def _loaded_heavy(code: str) -> list[str]:
    """The heavy packages in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    return [m for m in json.loads(out.stdout.splitlines()[-1]) if m in HEAVY]


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def test_importing_cli_imports_nothing_heavy():
    assert _loaded_heavy("import cli") == []


def test_every_help_imports_nothing_heavy():
    helps = [["--help"]] + [[*path, "--help"] for path, _ in _commands(main)]
    code = ("from cli import main\n"
            f"for argv in {helps!r}:\n"
            "    try:\n"
            "        main(argv, prog_name='workermap')\n"
            "    except SystemExit as exc:\n"
            "        assert exc.code == 0, (argv, exc.code)\n")
    assert _loaded_heavy(code) == []


def test_python_m_cli_help():
    out = subprocess.run([sys.executable, "-m", "cli", "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("Usage: workermap [OPTIONS] COMMAND"), out.stderr
    assert all(c.name in out.stdout for c in COMMANDS)


def _lazy_types():
    for path, command in _commands(main):
        for param in command.params:
            if isinstance(param.type, LazyChoice):
                yield " ".join(path), param.name, param.type.ref, param.type.extra


LAZY = sorted(set(_lazy_types()))


def test_the_lazy_choices_cover_the_geo_tables():
    """(The nearest, export and planner commands' other choices and limits come from the light declarations of
    geo.params, geo.registry_params and geo.planner_params: tests/test_planner_params.py checks the planner's.)"""
    refs = {ref for *_, ref, _ in LAZY}
    assert {"geo.vocab:DATUMS", "geo.export:DOWNLOAD_FORMATS", "web.prod:WORKER_CLASSES"} <= refs


@pytest.mark.parametrize(("command", "param", "ref", "extra"), LAZY)
def test_a_table_read_from_source_equals_the_imported_table(command, param, ref, extra):
    """What --help lists (read without importing) is what the code uses (imported)."""
    module, _, name = ref.partition(":")
    table = getattr(importlib.import_module(module), name)
    literal = literal_table(ref)
    assert literal is not NOT_LITERAL, f"{ref} is no longer a literal: --help of {command} would import {module}"
    assert literal == (tuple(table) if isinstance(table, dict | tuple | list) else table)
    option = next(p for p in dict(_commands(main))[tuple(command.split())].params if p.name == param)
    if isinstance(option.type, LazyChoice):
        assert option.type.choices == (*table, *extra)
    else:
        assert option.type.max == table


def test_cli_doctests():
    for module in ("cli.choices", "cli.table", "cli"):
        result = doctest.testmod(importlib.import_module(module))
        assert result.failed == 0, module
    assert cli.__doc__
