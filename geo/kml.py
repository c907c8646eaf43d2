"""KML 2.2 (OGC 07-147r2) writers for facilities (points) and districts (polygons).

KML is what Google Earth, Ovital (奥维) and phone map apps import. Coordinates are
WGS84 ``lon,lat`` with at most 7 decimals; exterior rings are counter-clockwise
(as KML recommends, the same as RFC 7946). Every attribute goes in a typed
``<Schema>`` + ``<SchemaData>`` so GDAL's LIBKML driver and QGIS read proper
fields; ``<name>`` is the facility's name. Text is written by ElementTree, so
markup in a name (``<img …>``) ends up escaped, never interpreted.

>>> from geo.model import Facility
>>> f = Facility(id="a1", kind="station", name="<b>驿站</b>", lon=120.3843, lat=36.062,
...              district_adcode="370202", district="市南区")
>>> text = facilities_kml([f]).decode("utf-8")
>>> "&lt;b&gt;驿站&lt;/b&gt;" in text, "<coordinates>120.3843,36.062</coordinates>" in text
(True, True)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from geo.export import DISTRICT_FIELDS, rfc7946_shape
from geo.model import FIELDS, KINDS, LIST_FIELDS, Facility

__all__ = ["DISTRICTS_TITLE", "FACILITIES_TITLE", "city_names", "city_title", "districts_kml", "facilities_kml"]

KML_NS = "http://www.opengis.net/kml/2.2"
_TYPES = {"capacity": "int", "sample": "bool", "source_lon": "double", "source_lat": "double",
          "lon": "double", "lat": "double", "distance_m": "double"}


#: Document titles as Qingdao's files have always had them; for another city (a planner answer's in a province or
#: the nation) :func:`city_title` names that city instead.
FACILITIES_TITLE = "青岛职工服务设施 / Qingdao worker facilities"
DISTRICTS_TITLE = "青岛市区（市）/ Qingdao districts"
_QINGDAO = "370200"


def city_names(city: str | None) -> tuple[str, str] | None:
    """(Chinese name without 市, English/pinyin name or "") of the prefecture-level city ``city`` (an adcode, as a
    planner answer's ``assumptions.city``) from the region data; None for Qingdao or no city (titles as written)."""
    if city in (None, "", _QINGDAO):
        return None
    from geo.regions import load_region

    region = load_region(city)
    return region.name.removesuffix("市") or region.name, (region.name_en or "").strip()


def city_title(qingdao: str, city: str | None, zh: str, en: str, en_alone: str) -> str:
    """A title for the city ``city``: ``qingdao`` as written for Qingdao (or none); else ``zh`` with ``{zh}`` its
    Chinese name, then ``en`` with ``{en}`` its English name, or ``en_alone`` (no city in it) when it has none.

    >>> city_title(FACILITIES_TITLE, None, "{zh}职工服务设施 / ", "{en} worker facilities", "Worker facilities")
    '青岛职工服务设施 / Qingdao worker facilities'
    """
    names = city_names(city)
    if names is None:
        return qingdao
    name, name_en = names
    return zh.format(zh=name) + (en.format(en=name_en) if name_en else en_alone)


def _num(v: float) -> str:
    return repr(round(float(v), 7))


def _coords(xy) -> str:
    return " ".join(f"{_num(x)},{_num(y)}" for x, y in xy)


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    el = ET.SubElement(parent, tag)
    el.text = value
    return el


def _value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"  # xsd:boolean; GDAL reads "true" as a malformed integer
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _document(title: str, schema_id: str, columns: Sequence[str]) -> tuple[ET.Element, ET.Element]:
    kml = ET.Element("kml", xmlns=KML_NS)
    doc = ET.SubElement(kml, "Document", id="root")
    _text(doc, "name", title)
    schema = ET.SubElement(doc, "Schema", name=schema_id, id=schema_id)
    for c in columns:
        ET.SubElement(schema, "SimpleField", name=c, type=_TYPES.get(c, "string"))
    folder = ET.SubElement(doc, "Folder")
    _text(folder, "name", schema_id)
    return kml, folder


def _placemark(folder: ET.Element, name: str, schema_id: str, values: dict[str, Any]) -> ET.Element:
    pm = ET.SubElement(folder, "Placemark")
    _text(pm, "name", name)
    data = ET.SubElement(ET.SubElement(pm, "ExtendedData"), "SchemaData", schemaUrl=f"#{schema_id}")
    for k, v in values.items():
        if v is None or v == "":
            continue  # an absent SimpleData is KML's null
        _text(data, "SimpleData", _value(v)).set("name", k)
    return pm


def _serialise(kml: ET.Element) -> bytes:
    ET.indent(kml, space=" ")
    return ET.tostring(kml, encoding="utf-8", xml_declaration=True) + b"\n"


def facilities_kml(facilities: Sequence[Facility], *, extra_columns: dict[str, list] | None = None,
                   title: str | None = None, city: str | None = None) -> bytes:
    """Facilities as a KML document of point placemarks (UTF-8 bytes); titled ``title``, else for the ``city``
    (adcode) they are of (:func:`city_title`; none: Qingdao's)."""
    if title is None:
        title = city_title(FACILITIES_TITLE, city, "{zh}职工服务设施 / ", "{en} worker facilities", "Worker facilities")
    extra = extra_columns or {}
    columns = [c for c in FIELDS if c not in ("lon", "lat")] + list(extra)
    kml, folder = _document(title, "facilities", columns)
    for i, f in enumerate(facilities):
        props = f.properties()
        values = {c: (";".join(props[c]) if c in LIST_FIELDS else props[c]) for c in columns if c in props}
        values.update({k: col[i] for k, col in extra.items()})
        pm = _placemark(folder, f.name, "facilities", values)
        _text(pm, "description", f"{KINDS[f.kind].zh} · {f.address}" if f.kind in KINDS else f.address)
        _text(ET.SubElement(pm, "Point"), "coordinates", f"{_num(f.lon)},{_num(f.lat)}")
    return _serialise(kml)


def _polygon(parent: ET.Element, poly) -> None:
    el = ET.SubElement(parent, "Polygon")
    ring = ET.SubElement(ET.SubElement(el, "outerBoundaryIs"), "LinearRing")
    _text(ring, "coordinates", _coords(poly.exterior.coords))
    for hole in poly.interiors:
        ring = ET.SubElement(ET.SubElement(el, "innerBoundaryIs"), "LinearRing")
        _text(ring, "coordinates", _coords(hole.coords))


def districts_kml(frame, *, title: str | None = None, city: str | None = None) -> bytes:
    """District polygons (a :class:`geo.geography.Districts` frame) as a KML document (UTF-8 bytes); titled
    ``title``, else for the ``city`` (adcode) they are of (:func:`city_title`; none: Qingdao's)."""
    if title is None:
        title = city_title(DISTRICTS_TITLE, city, "{zh}区县 / ", "{en} districts and counties",
                           "Districts and counties")
    kml, folder = _document(title, "districts", DISTRICT_FIELDS)
    for _, row in frame.iterrows():
        pm = _placemark(folder, str(row["name"]), "districts", {c: str(row[c]) for c in DISTRICT_FIELDS})
        geom = rfc7946_shape(row.geometry)
        parts = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
        target = ET.SubElement(pm, "MultiGeometry") if len(parts) > 1 else pm
        for poly in parts:
            _polygon(target, poly)
    return _serialise(kml)


def polygons_kml(features: Sequence[dict], *, title: str, schema_id: str, name_key: str) -> bytes:
    """GeoJSON polygon features (WGS84) as a KML document; every property becomes a data column."""
    from shapely.geometry import shape

    columns = list(features[0]["properties"]) if features else []
    kml, folder = _document(title, schema_id, columns)
    for feat in features:
        props = feat["properties"]
        pm = _placemark(folder, str(props.get(name_key, "")), schema_id, props)
        geom = shape(feat["geometry"])
        parts = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
        target = ET.SubElement(pm, "MultiGeometry") if len(parts) > 1 else pm
        for poly in parts:
            _polygon(target, poly)
    return _serialise(kml)
