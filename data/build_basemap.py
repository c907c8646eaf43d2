"""Build the offline basemap ``geo/shipped/basemap_qingdao_wgs84.geojson`` from data in the repository.

The pages draw this file (``WM.Basemaps`` in ``web/static/js/common.js``) whenever map tiles fail or
are switched off (``WORKERMAP_TILES=off``): land and sea, district boundaries and names, town labels.
It is made for display only, from

* the GSHHG full-resolution level-1 shoreline in the Qingdao bounding box
  (``tests/data/gshhg_coast_qingdao_wgs84.geojson``, LGPL-3.0): the land around the city (Weifang,
  Yantai, Rizhao) and the islands, so the neighbours are not drawn as sea;
* the shipped districts (``geo/shipped/qingdao_districts_wgs84.geojson``);
* the GeoNames town seats (``geo/shipped/reference/qingdao_geonames_places_wgs84.geojson``, CC-BY 4.0)
  with a Chinese name where one of the district's townships (``qingdao_townships.csv``) is spelt the
  same in pinyin (``pypinyin``, every reading of every character), else the GeoNames name.

Steps: the open shoreline lines are extended to the bounding box and polygonised with it; a face is
land when at least 10 % of it lies in a district (the mainland face holds 41 %, the sea 2 %: the
shoreline and the district coasts differ by 100-200 m), every closed ring is an island (level 1 has
no lakes). Everything is simplified in EPSG:4549 metres: the districts as one coverage at
:data:`TOLERANCE_M` (``shapely.coverage_simplify``: neighbours keep one shared edge, no gaps), the
land with Douglas-Peucker at :data:`LAND_TOLERANCE_M` (topology kept); islands and district parts
under :data:`MIN_PART_M2` are dropped. District labels sit at the pole of inaccessibility of the
district's largest part. Coordinates are rounded to :data:`DECIMALS` decimals (about 10 m); output is
byte-identical from run to run (``tests/test_basemap.py`` rebuilds it).

Features (all with a ``layer`` property), in this order: ``land`` (one MultiPolygon), ``district``
(10 MultiPolygons: ``adcode``, ``name``, ``name_en``), ``district_label`` (10 Points, same properties),
``place`` (Points: ``name`` Chinese or romanised, ``name_en``, ``adcode``).

Usage (from the repository root)::

    python data/build_basemap.py            # writes geo/shipped/basemap_qingdao_wgs84.geojson
    python data/build_basemap.py --out FILE
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import shapely
import shapely.ops
from shapely.geometry import LineString, Point, box, mapping, shape

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script: make ``geo`` importable
    sys.path.insert(0, str(REPO_ROOT))

from geo.crs import to_lonlat, to_metric  # noqa: E402

SHIPPED = REPO_ROOT / "geo" / "shipped"
SHORELINE = REPO_ROOT / "tests" / "data" / "gshhg_coast_qingdao_wgs84.geojson"
DISTRICTS = SHIPPED / "qingdao_districts_wgs84.geojson"
PLACES = SHIPPED / "reference" / "qingdao_geonames_places_wgs84.geojson"
TOWNSHIPS = SHIPPED / "reference" / "qingdao_townships.csv"
OUT = SHIPPED / "basemap_qingdao_wgs84.geojson"

#: The shoreline extract's bounding box (lon/lat): the edge of the drawn land.
BBOX = (119.2, 35.3, 121.4, 37.3)
#: Simplification tolerances, metres (EPSG:4549): the districts (a few pixels at zoom 14, a fallback
#: above), and the shoreline, which matters less (most of it is the neighbours' coast).
TOLERANCE_M = 60.0
LAND_TOLERANCE_M = 150.0
#: Islands and district parts smaller than this (m²) are not drawn.
MIN_PART_M2 = 20_000.0
#: Share of a shoreline face that must lie in a district for the face to be land.
LAND_SHARE = 0.10
DECIMALS = 4
#: The city seat of GeoNames' "Qingdao" has no township of that name.
CITY_NAMES = {"Qingdao": "青岛"}
#: Township suffixes dropped before comparing pinyin, and GeoNames suffixes dropped from romanised names.
ZH_SUFFIXES = ("街道", "镇", "乡", "市", "区")
EN_SUFFIXES = (" Shequ", " Jiedao")


def _metric(geom):
    return shapely.transform(geom, lambda c: np.column_stack(to_metric(c[:, 0], c[:, 1])))


def _lonlat(geom):
    return shapely.transform(geom, lambda c: np.round(np.column_stack(to_lonlat(c[:, 0], c[:, 1])), DECIMALS))


def _polygons(geom) -> list:
    return [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon" and not g.is_empty]


def _multipolygon(parts: list):
    """Valid MultiPolygon of ``parts`` (WGS84, rounded), exteriors counter-clockwise (RFC 7946)."""
    geom = shapely.MultiPolygon(parts)
    if not geom.is_valid:
        geom = shapely.MultiPolygon(_polygons(shapely.make_valid(geom, method="structure")))
    return shapely.orient_polygons(geom, exterior_cw=False)


def land_polygons(lines: list, city) -> list:
    """Land in :data:`BBOX` from shoreline ``lines`` (WGS84): mainland faces and islands."""
    frame = box(*BBOX).exterior
    open_lines, islands = [], []
    for line in lines:
        if line.is_ring:
            islands.append(shapely.Polygon(line.coords))
            continue
        c = list(line.coords)
        start, end = (frame.interpolate(frame.project(Point(p))).coords[0] for p in (c[0], c[-1]))
        open_lines.append(LineString([start, *c, end]))
    net = shapely.union_all([*open_lines, frame])
    faces = _polygons(shapely.polygonize(shapely.get_parts(net)))
    mainland = [f for f in faces if f.intersection(city).area >= LAND_SHARE * f.area]
    return mainland + islands


def simplify_land(parts: list) -> list:
    out = []
    for part in parts:
        m = shapely.simplify(_metric(part), LAND_TOLERANCE_M, preserve_topology=True)
        out += [p for p in _polygons(m) if p.area >= MIN_PART_M2]
    return [_lonlat(p) for p in out]


def simplify_districts(geoms: list) -> list:
    """The districts as one coverage simplified together (shared edges stay shared), small parts dropped."""
    simplified = shapely.coverage_simplify([_metric(g) for g in geoms], TOLERANCE_M)
    out = []
    for g in simplified:
        parts = [p for p in _polygons(g) if p.area >= MIN_PART_M2]
        out.append((parts, _multipolygon([_lonlat(p) for p in parts])))
    return out


def label_point(metric_parts: list):
    """Where a district's name goes: the pole of inaccessibility of its largest part (WGS84, rounded)."""
    largest = max(metric_parts, key=lambda p: p.area)
    return _lonlat(shapely.ops.polylabel(largest, tolerance=10.0))


def _readings(text: str) -> set[str]:
    """Every pinyin spelling of ``text`` (each character in each of its readings), lower case, no tones."""
    from pypinyin import Style, pinyin

    choices = pinyin(text, style=Style.NORMAL, heteronym=True)
    return {"".join(p).lower() for p in itertools.product(*choices)}


def chinese_names(places: list[dict], townships: list[dict], districts: dict[str, str]) -> dict[int, str]:
    """GeoNames id -> Chinese name: the township (or district) of the place's district spelt the same."""
    def bare(name: str) -> str:
        for s in ZH_SUFFIXES:
            if name.endswith(s) and len(name) > len(s) + 1:
                return name[: -len(s)]
        return name

    out = {}
    for f in places:
        p = f["properties"]
        en = p["name"]
        for s in EN_SUFFIXES:
            en = en.removesuffix(s)
        key = en.replace(" ", "").lower()
        if p["name"] in CITY_NAMES:
            out[p["geonameid"]] = CITY_NAMES[p["name"]]
            continue
        names = [t["town_name"] for t in townships if t["county_code"] == p["district_adcode"]]
        names.append(districts[p["district_adcode"]])
        hits = sorted({bare(n) for n in names if key in _readings(bare(n))})
        if len(hits) == 1:
            out[p["geonameid"]] = hits[0]
    return out


def _feature(props: dict, geom) -> str:
    doc = {"type": "Feature", "properties": props, "geometry": mapping(geom)}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def build() -> bytes:
    lines = [shape(f["geometry"]) for f in json.loads(SHORELINE.read_text(encoding="utf-8"))["features"]]
    dist = json.loads(DISTRICTS.read_text(encoding="utf-8"))["features"]
    places = json.loads(PLACES.read_text(encoding="utf-8"))["features"]
    with TOWNSHIPS.open(encoding="utf-8", newline="") as fh:
        townships = list(csv.DictReader(fh))
    geoms = [shape(f["geometry"]) for f in dist]
    land = _multipolygon(simplify_land(land_polygons(lines, shapely.union_all(geoms))))
    feats = [_feature({"layer": "land"}, land)]
    simplified = simplify_districts(geoms)
    labels = []
    for f, (metric_parts, geom) in zip(dist, simplified, strict=True):
        p = f["properties"]
        props = {"adcode": p["adcode"], "name": p["name"], "name_en": p["name_en"]}
        feats.append(_feature({"layer": "district", **props}, geom))
        labels.append(_feature({"layer": "district_label", **props}, label_point(metric_parts)))
    feats += labels
    zh = chinese_names(places, townships, {f["properties"]["adcode"]: f["properties"]["name"] for f in dist})
    for f in sorted(places, key=lambda f: (-f["properties"]["population_geonames"], f["properties"]["geonameid"])):
        p = f["properties"]
        en = p["name"]
        for s in EN_SUFFIXES:
            en = en.removesuffix(s)
        props = {"layer": "place", "name": zh.get(p["geonameid"], en), "name_en": en, "adcode": p["district_adcode"]}
        feats.append(_feature(props, shapely.transform(shape(f["geometry"]), lambda c: np.round(c, DECIMALS))))
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(feats) + "\n]}\n"
    return text.encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    data = build()
    args.out.write_bytes(data)
    doc = json.loads(data)
    layers: dict[str, int] = {}
    for f in doc["features"]:
        layers[f["properties"]["layer"]] = layers.get(f["properties"]["layer"], 0) + 1
    vertices = sum(len(shapely.get_coordinates(shape(f["geometry"]))) for f in doc["features"])
    print(f"{args.out}: {len(data):,} bytes, {vertices:,} vertices, features {layers}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
