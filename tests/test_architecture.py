"""The core stays pure: importing geo (all of it) never pulls in flask, folium or jinja2."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import geo


def test_geo_never_imports_web_libraries():
    modules = [f"geo.{m.name}" for m in pkgutil.iter_modules(geo.__path__)]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('flask', 'folium', 'jinja2', 'web'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"geo imported: {out.stdout.strip()}"
    assert len(modules) >= 8
