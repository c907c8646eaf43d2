"""Exports other tools open as they are: GeoJSON (RFC 7946), CSV (UTF-8 BOM), GeoPackage.

GeoJSON is WGS84 lon/lat with no ``crs`` member and at most 7 decimals (~1 cm).
CSV starts with a UTF-8 BOM so Excel shows Chinese correctly, and every cell
that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR)
is prefixed with ``'`` (OWASP's advice against CSV injection).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from geo.model import FIELDS, LIST_FIELDS, Facility

__all__ = [
    "EXPORT_FORMATS",
    "csv_safe",
    "dumps_geojson",
    "facilities_csv",
    "feature_collection",
    "write_export",
    "write_gpkg",
]

EXPORT_FORMATS = ("geojson", "csv", "gpkg")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _feature(f: Facility) -> dict[str, Any]:
    props = f.properties()
    del props["lon"], props["lat"]
    return {
        "type": "Feature",
        "id": f.id,
        "geometry": {"type": "Point", "coordinates": [round(f.lon, 7), round(f.lat, 7)]},
        "properties": props,
    }


def feature_collection(facilities: Iterable[Facility], meta: dict | None = None) -> dict[str, Any]:
    """A GeoJSON FeatureCollection; ``meta`` goes in a ``metadata`` foreign member."""
    fc: dict[str, Any] = {"type": "FeatureCollection"}
    if meta:
        fc["metadata"] = meta
    fc["features"] = [_feature(f) for f in facilities]
    return fc


def dumps_geojson(doc: dict, *, indent: int | None = None) -> str:
    """Deterministic JSON text (UTF-8 characters kept, keys in insertion order)."""
    return json.dumps(doc, ensure_ascii=False, indent=indent, separators=None if indent else (",", ":"))


def csv_safe(value: Any) -> str:
    """Text for a CSV cell that no spreadsheet will evaluate as a formula.

    >>> csv_safe("=CMD('calc')")
    "'=CMD('calc')"
    >>> csv_safe(-3.5), csv_safe("香港中路")
    ('-3.5', '香港中路')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _row(f: Facility, columns: Sequence[str]) -> list[str]:
    out = []
    for c in columns:
        v = getattr(f, c)
        if c in LIST_FIELDS:
            v = ";".join(v)
        elif c in ("lon", "lat"):
            v = round(v, 7)
        out.append(csv_safe(v))
    return out


def facilities_csv(facilities: Iterable[Facility], *, extra_columns: dict[str, list] | None = None) -> str:
    """CSV text with a UTF-8 BOM and English headers (the importer reads them back)."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf, lineterminator="\r\n")
    extra = extra_columns or {}
    w.writerow(list(FIELDS) + list(extra))
    for i, f in enumerate(facilities):
        w.writerow(_row(f, FIELDS) + [csv_safe(col[i]) for col in extra.values()])
    return buf.getvalue()


def write_gpkg(facilities: Sequence[Facility], path: str | Path, *, layer: str = "facilities") -> None:
    """Write a GeoPackage point layer (EPSG:4326)."""
    import geopandas as gpd
    import shapely

    records = []
    for f in facilities:
        p = f.properties()
        for c in LIST_FIELDS:
            p[c] = ";".join(p[c])
        records.append(p)
    frame = gpd.GeoDataFrame(
        records,
        columns=list(FIELDS),
        geometry=shapely.points([f.lon for f in facilities], [f.lat for f in facilities]),
        crs="EPSG:4326",
    )
    frame["capacity"] = frame["capacity"].astype("Int64")
    frame.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")


def write_export(facilities: Sequence[Facility], path: str | Path, fmt: str, *, meta: dict | None = None) -> Path:
    """Write ``facilities`` to ``path`` in ``fmt`` (one of :data:`EXPORT_FORMATS`)."""
    path = Path(path)
    if fmt == "geojson":
        path.write_text(dumps_geojson(feature_collection(facilities, meta)), encoding="utf-8")
    elif fmt == "csv":
        path.write_text(facilities_csv(facilities), encoding="utf-8", newline="")
    elif fmt == "gpkg":
        if path.exists():
            path.unlink()
        write_gpkg(facilities, path)
    else:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    return path
