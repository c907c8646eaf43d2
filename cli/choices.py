"""Choices and limits of the command line, taken from the code's own tables on first use.

The tables (``geo.model.KINDS``, ``geo.datum.DATUMS``, ``geo.nearest.MAX_K``,
``web.prod.WORKER_CLASSES`` …) live in modules that import numpy, shapely, pyproj or flask at
the top, which takes up to a second. ``workermap --help`` and ``workermap COMMAND --help`` must
not wait for that, so a table is named here by reference (``"geo.vocab:KINDS"``) and read when
click first needs it (to list it in help or to check a value): from the module if it is already
imported, else from the module's source, where the table is a literal assignment (parsed with
:mod:`ast`, not run; no package ``__init__`` runs either). A table that is not a literal is read
by importing its module. ``tests/test_cli_start.py`` checks that every table used by a command
reads the same both ways.

>>> table("geo.vocab:DATUMS")
('wgs84', 'gcj02', 'bd09')
>>> LazyChoice("geo.vocab:KINDS", extra=("any",)).choices[-2:]
('apartment', 'any')
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from functools import cache
from pathlib import Path
from typing import Any

import click

__all__ = ["LazyChoice", "literal_table", "table"]

NOT_LITERAL = object()


def _plain(value: Any) -> Any:
    """A table as click wants it: a dict's keys or a sequence as a tuple, a number as is."""
    return tuple(value) if isinstance(value, dict | list | tuple) else value


def _source_path(module: str) -> Path | None:
    """The file of ``module``, found without importing it or its parent packages."""
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None:
        return None
    if not rest:
        return Path(spec.origin) if spec.origin else None
    base = Path(next(iter(spec.submodule_search_locations or ())), *rest)
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)


@cache
def _module_tree(module: str) -> ast.Module | None:
    path = _source_path(module)
    return None if path is None else ast.parse(path.read_bytes(), filename=str(path))


def literal_table(ref: str) -> Any:
    """The table ``"module:NAME"`` read from the module's source without running it, else :data:`NOT_LITERAL`.

    A dict counts when its keys are literals (its values may be anything: only the keys are used).
    """
    module, _, name = ref.partition(":")
    tree = _module_tree(module)
    for node in tree.body if tree is not None else ():
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        else:
            continue
        if not any(isinstance(t, ast.Name) and t.id == name for t in targets):
            continue
        value = node.value
        try:
            if isinstance(value, ast.Dict):
                return tuple(ast.literal_eval(k) for k in value.keys)  # a ``**other`` key (None) fails here
            return _plain(ast.literal_eval(value))
        except (ValueError, TypeError, SyntaxError):
            return NOT_LITERAL
    return NOT_LITERAL


@cache
def table(ref: str) -> Any:
    """The table ``"module:NAME"`` (see the module docstring); a dict gives its keys."""
    module, _, name = ref.partition(":")
    loaded = sys.modules.get(module)
    if loaded is None:
        value = literal_table(ref)
        if value is not NOT_LITERAL:
            return value
        loaded = importlib.import_module(module)
    return _plain(getattr(loaded, name))


class LazyChoice(click.Choice):
    """``click.Choice`` over a table (plus ``extra`` values), read on first use."""

    def __init__(self, ref: str, *, extra: tuple[str, ...] = ()):  # not super().__init__: choices is a property
        self.ref = ref
        self.extra = extra
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:
        return (*table(self.ref), *self.extra)
