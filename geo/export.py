"""Exports other tools open as they are: GeoJSON (RFC 7946), CSV (UTF-8 BOM), GeoPackage (KML: geo.kml).

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

import orjson

from geo.errors import ParameterError
from geo.model import FIELDS, LIST_FIELDS, Facility

__all__ = [
    "DISTRICT_FIELDS",
    "DOWNLOAD_FORMATS",
    "csv_safe",
    "datum_columns",
    "districts_csv",
    "districts_export",
    "districts_feature_collection",
    "dumps_geojson",
    "export_registry",
    "facilities_csv",
    "facilities_export",
    "facilities_frame",
    "feature_collection",
    "rfc7946_geometry",
    "rfc7946_shape",
]

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
    """Deterministic JSON text (UTF-8 characters kept, keys in insertion order).

    Compact output goes through orjson (several times faster, same text as the standard
    library's compact form); indented output (the registry file) through ``json``.
    """
    if indent is None:
        try:
            return orjson.dumps(doc).decode("utf-8")
        except TypeError:  # e.g. numpy scalars or integers beyond 64 bits: let json explain or handle them
            pass
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


def facilities_frame(facilities: Sequence[Facility], *, extra_columns: dict[str, list] | None = None):
    """A GeoDataFrame (EPSG:4326 points) with the table columns of :data:`FIELDS`, then ``extra_columns``."""
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
    for name, values in (extra_columns or {}).items():
        frame[name] = list(values)
    return frame


# -- downloads in every format, facilities and districts ------------------------------------------

#: Formats of :func:`facilities_export` and :func:`districts_export`, with media type and file suffix.
DOWNLOAD_FORMATS: dict[str, tuple[str, str]] = {
    "geojson": ("application/geo+json", "geojson"),
    "csv": ("text/csv; charset=utf-8", "csv"),
    "gpkg": ("application/geopackage+sqlite3", "gpkg"),
    "kml": ("application/vnd.google-earth.kml+xml", "kml"),
}
#: The attribute columns of the district layer.
DISTRICT_FIELDS = ("adcode", "name", "name_en")


def _check_format(fmt: str) -> None:
    if fmt not in DOWNLOAD_FORMATS:
        raise ValueError(f"format must be one of {', '.join(DOWNLOAD_FORMATS)}, got {fmt!r}")


def rfc7946_shape(geom):
    """``geom`` with coordinates rounded to 7 decimals and polygon rings oriented as RFC 7946 asks.

    Exterior rings counter-clockwise, holes clockwise (RFC 7946 §3.1.6); rounding
    comes first so the orientation holds for the coordinates actually written.
    """
    import numpy as np
    import shapely

    rounded = shapely.transform(geom, lambda xy: np.round(xy, 7))
    return shapely.orient_polygons(rounded, exterior_cw=False)


def _listify(value):
    if isinstance(value, tuple | list):
        return [_listify(v) for v in value]
    return round(float(value), 7)


def rfc7946_geometry(geom) -> dict[str, Any]:
    """A GeoJSON geometry object (RFC 7946: lon/lat, ≤ 7 decimals, counter-clockwise exteriors).

    >>> import shapely
    >>> rfc7946_geometry(shapely.box(120.0, 36.0, 120.123456789, 36.1, ccw=False))["coordinates"][0][:3]
    [[120.0, 36.0], [120.1234568, 36.0], [120.1234568, 36.1]]
    """
    import shapely.geometry

    mapped = shapely.geometry.mapping(rfc7946_shape(geom))
    return {"type": mapped["type"], "coordinates": _listify(mapped["coordinates"])}


def districts_feature_collection(frame, meta: dict | None = None) -> dict[str, Any]:
    """The district polygons (a :class:`geo.geography.Districts` frame) as an RFC 7946 FeatureCollection."""
    fc: dict[str, Any] = {"type": "FeatureCollection"}
    if meta:
        fc["metadata"] = meta
    fc["features"] = [
        {
            "type": "Feature",
            "id": str(row["adcode"]),
            "geometry": rfc7946_geometry(row.geometry),
            "properties": {c: str(row[c]) for c in DISTRICT_FIELDS},
        }
        for _, row in frame.iterrows()
    ]
    return fc


def districts_csv(frame) -> str:
    """District table as CSV (UTF-8 BOM) with the polygon in a ``WKT`` column (GDAL reads it as geometry)."""
    import shapely

    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([*DISTRICT_FIELDS, "WKT"])
    for _, row in frame.iterrows():
        wkt = shapely.to_wkt(rfc7946_shape(row.geometry), rounding_precision=7, trim=True)
        w.writerow([csv_safe(str(row[c])) for c in DISTRICT_FIELDS] + [wkt])
    return buf.getvalue()


def datum_columns(facilities: Sequence[Facility], datum: str) -> dict[str, list[float]]:
    """Extra ``lon_<datum>``/``lat_<datum>`` columns (7 decimals) for GCJ-02 or BD-09 users; none for WGS84.

    >>> f = Facility(id="a", kind="station", name="n", lon=120.3843, lat=36.0620,
    ...              district_adcode="370202", district="市南区")
    >>> datum_columns([f], "gcj02")
    {'lon_gcj02': [120.3894331], 'lat_gcj02': [36.0622764]}
    """
    from geo.datum import DATUMS, convert

    if datum not in DATUMS:
        raise ValueError(f"datum must be one of {', '.join(DATUMS)}, got {datum!r}")
    if datum == "wgs84" or not facilities:
        return {}
    lon, lat = convert([f.lon for f in facilities], [f.lat for f in facilities], src="wgs84", dst=datum)
    return {f"lon_{datum}": [round(float(v), 7) for v in lon],
            f"lat_{datum}": [round(float(v), 7) for v in lat]}


def _gpkg_bytes(frame, layer: str) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="workermap-gpkg-") as tmp:
        path = Path(tmp) / f"{layer}.gpkg"
        frame.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
        return path.read_bytes()


def facilities_export(facilities: Sequence[Facility], fmt: str, *, datum: str = "wgs84",
                      distances_m: Sequence[float] | None = None, meta: dict | None = None) -> bytes:
    """Facilities as a file in ``fmt`` (one of :data:`DOWNLOAD_FORMATS`), as bytes.

    ``datum`` (``gcj02``/``bd09``) adds ``lon_<datum>``/``lat_<datum>`` columns to CSV only:
    every geometry stays WGS84. ``distances_m`` (one per facility, e.g. from a ``near``
    query) adds a ``distance_m`` column/property (0.1 m) in every format.
    """
    _check_format(fmt)
    if datum != "wgs84" and fmt != "csv":  # named as the API and the command line name it
        raise ParameterError("crs", datum, "wgs84 unless format=csv",
                             f"crs={datum} adds lon_{datum}/lat_{datum} columns to CSV only; {fmt} is always WGS84 "
                             "(use format=csv, or leave crs out)")
    extra: dict[str, list] = {}
    if distances_m is not None:
        extra["distance_m"] = [round(float(d), 1) for d in distances_m]
    if fmt == "geojson":
        doc = feature_collection(facilities, meta)
        for feat, d in zip(doc["features"], extra.get("distance_m", ()), strict=False):
            feat["properties"]["distance_m"] = d
        return dumps_geojson(doc).encode("utf-8")
    if fmt == "csv":
        columns = datum_columns(facilities, datum) | extra
        return facilities_csv(facilities, extra_columns=columns).encode("utf-8")
    if fmt == "gpkg":
        return _gpkg_bytes(facilities_frame(facilities, extra_columns=extra), "facilities")
    from geo.kml import facilities_kml

    return facilities_kml(facilities, extra_columns=extra)


def districts_export(frame, fmt: str, *, meta: dict | None = None) -> bytes:
    """District polygons (a :class:`geo.geography.Districts` frame) as a file in ``fmt``, as bytes."""
    _check_format(fmt)
    if fmt == "geojson":
        return dumps_geojson(districts_feature_collection(frame, meta)).encode("utf-8")
    if fmt == "csv":
        return districts_csv(frame).encode("utf-8")
    if fmt == "gpkg":
        import geopandas as gpd

        out = gpd.GeoDataFrame({c: frame[c].astype(str).to_numpy() for c in DISTRICT_FIELDS},
                               geometry=[rfc7946_shape(g) for g in frame.geometry], crs="EPSG:4326")
        return _gpkg_bytes(out, "districts")
    from geo.kml import districts_kml

    return districts_kml(frame)


def polygon_layer_export(fc: dict, fmt: str, *, layer: str, title: str, name_key: str = "rank") -> bytes:
    """A GeoJSON FeatureCollection of polygons (e.g. uncovered areas) as a file in ``fmt``, as bytes.

    CSV carries the properties and a ``WKT`` column (UTF-8 BOM, formula cells defused);
    GeoPackage and KML one feature per polygon with every property.
    """
    _check_format(fmt)
    features = fc.get("features", [])
    if fmt == "geojson":
        return dumps_geojson(fc).encode("utf-8")
    if fmt == "csv":
        import shapely
        from shapely.geometry import shape

        buf = io.StringIO()
        buf.write("\ufeff")
        w = csv.writer(buf, lineterminator="\r\n")
        columns = list(features[0]["properties"]) if features else []
        w.writerow([*columns, "WKT"])
        for f in features:
            wkt = shapely.to_wkt(shape(f["geometry"]), rounding_precision=7, trim=True)
            w.writerow([csv_safe(f["properties"].get(c)) for c in columns] + [wkt])
        return buf.getvalue().encode("utf-8")
    if fmt == "gpkg":
        import geopandas as gpd

        return _gpkg_bytes(gpd.GeoDataFrame.from_features(features, crs="EPSG:4326"), layer)
    from geo.kml import polygons_kml

    return polygons_kml(features, title=title, schema_id=layer, name_key=name_key)


def export_registry(registry, districts, fmt: str, *, layer: str = "facilities", flt=None,
                    datum: str = "wgs84", table=None) -> tuple[bytes, int]:
    """A download (``GET /api/v1/export``, ``workermap export``): ``(file bytes, number of features)``.

    ``registry`` is a :class:`geo.registry.Registry`, ``districts`` a :class:`geo.geography.Districts`;
    ``flt`` a :class:`geo.query.FacilityFilter` (facilities: every field; districts: ``bbox`` and
    ``districts`` only); without it, every facility but removed ones, or every district.
    ``table``: a prebuilt :class:`geo.query.FacilityTable` over ``registry.facilities`` (else built here).
    """
    from geo.query import FacilityFilter, FacilityTable, district_mask

    flt = flt or FacilityFilter()
    meta = {"sample": registry.is_sample}
    if layer == "districts":
        frame = districts.frame[district_mask(districts.frame, bbox=flt.bbox, districts=flt.districts)]
        return districts_export(frame, fmt, meta=meta | {"count": len(frame)}), len(frame)
    if layer != "facilities":
        raise ValueError(f"layer must be facilities or districts, got {layer!r}")
    matches = (table if table is not None else FacilityTable(registry.facilities)).select(flt)
    body = facilities_export(matches.facilities, fmt, datum=datum, distances_m=matches.distances_m,
                             meta=meta | {"count": len(matches)})
    return body, len(matches)
