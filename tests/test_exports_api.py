"""GET /api/v1/export: every format and layer as a download, RFC 7946-checked, round-tripped, read by GDAL."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import urllib.request
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest
import shapely

from geo.datum import convert
from tests.conftest import open_test_store, write_registry
from tests.test_ogc import OGC_FACILITIES, XSS, error_of, sample_server  # noqa: F401 - a fixture
from tests.tools import need_tool

ALL_STATUSES = "status=open,temporarily_closed,maintenance,removed"
FORMATS = {"geojson": "application/geo+json", "csv": "text/csv", "gpkg": "application/geopackage+sqlite3",
           "kml": "application/vnd.google-earth.kml+xml"}
KML = "{http://www.opengis.net/kml/2.2}"


@pytest.fixture
def export_app(tmp_path):
    from web import create_app

    write_registry(tmp_path / "instance" / "facilities.geojson", OGC_FACILITIES)
    return create_app({"TESTING": True, "WORKERMAP_DATA_DIR": tmp_path / "instance"})


@pytest.fixture
def client(export_app):
    return export_app.test_client()


def download(client, query: str):
    r = client.get(f"/api/v1/export?{query}")
    assert r.status_code == 200, r.get_data(as_text=True)
    return r


# -- an RFC 7946 check ----------------------------------------------------------------------------------

def _decimals(x: float) -> int:
    exp = Decimal(repr(x)).as_tuple().exponent
    return -exp if isinstance(exp, int) and exp < 0 else 0


def _positions(coords):
    if coords and isinstance(coords[0], int | float):
        yield coords
    else:
        for c in coords:
            yield from _positions(c)


def rfc7946_problems(doc: dict, *, lon_range=(119.3, 121.3), lat_range=(35.4, 37.3)) -> list[str]:
    """What in ``doc`` breaks RFC 7946 (or falls outside Qingdao, which catches lat/lon swaps)."""
    problems = []
    if doc.get("type") != "FeatureCollection":
        problems.append("not a FeatureCollection")
    if "crs" in doc:
        problems.append("has a crs member (RFC 7946 §4 removed it)")
    for i, f in enumerate(doc.get("features", [])):
        g = f.get("geometry") or {}
        if f.get("type") != "Feature" or not isinstance(f.get("properties"), dict | None):
            problems.append(f"feature {i}: not a Feature with properties")
        if "crs" in f or "crs" in g:
            problems.append(f"feature {i}: crs member")
        for pos in _positions(g.get("coordinates", [])):
            if len(pos) not in (2, 3):
                problems.append(f"feature {i}: position {pos} has {len(pos)} numbers")
            lon, lat = pos[0], pos[1]
            if not (lon_range[0] <= lon <= lon_range[1] and lat_range[0] <= lat <= lat_range[1]):
                problems.append(f"feature {i}: {pos} is not lon,lat in Qingdao")
            if max(_decimals(lon), _decimals(lat)) > 7:
                problems.append(f"feature {i}: {pos} has more than 7 decimals")
        polys = {"Polygon": [g.get("coordinates")], "MultiPolygon": g.get("coordinates")}.get(
            g.get("type"), [])
        for rings in polys:
            for j, ring in enumerate(rings):
                if len(ring) < 4 or ring[0] != ring[-1]:
                    problems.append(f"feature {i}: ring {j} is not a closed ring of ≥ 4 positions")
                    continue
                ccw = shapely.is_ccw(shapely.linearrings(ring))
                if (j == 0) != ccw:
                    problems.append(f"feature {i}: ring {j} is {'counter-' if ccw else ''}clockwise "
                                    f"({'exterior' if j == 0 else 'hole'})")
    return problems


def test_the_rfc7946_check_catches_what_it_should():
    cw = [[120.0, 36.0], [120.0, 36.1], [120.1, 36.1], [120.0, 36.0]]
    bad = {"type": "FeatureCollection", "crs": {}, "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [cw]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [36.06, 120.38]}},
        {"type": "Feature", "properties": {},
         "geometry": {"type": "Point", "coordinates": [120.123456789, 36.0]}},
    ]}
    text = " ".join(rfc7946_problems(bad))
    for expected in ("crs member", "clockwise (exterior)", "not lon,lat", "7 decimals"):
        assert expected in text


# -- in-process -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("layer", ["facilities", "districts"])
def test_every_format_and_layer_is_a_download(client, fmt, layer):
    r = download(client, f"format={fmt}&layer={layer}")
    assert r.mimetype == FORMATS[fmt]
    assert r.headers["Content-Disposition"] == f'attachment; filename="qingdao-{layer}.{fmt}"'
    assert len(r.data) > 100


def test_default_is_geojson_of_the_live_facilities(client):
    doc = json.loads(download(client, "").data)
    assert {f["id"] for f in doc["features"]} == {f.id for f in OGC_FACILITIES if f.status != "removed"}
    assert doc["metadata"]["count"] == len(doc["features"])


@pytest.mark.parametrize("layer", ["facilities", "districts"])
def test_geojson_passes_rfc7946(client, layer):
    statuses = "" if layer == "districts" else ALL_STATUSES
    doc = json.loads(download(client, f"format=geojson&layer={layer}&{statuses}").data)
    assert rfc7946_problems(doc) == []
    assert len(doc["features"]) == (10 if layer == "districts" else len(OGC_FACILITIES))


@pytest.mark.parametrize("fmt", ["geojson", "csv"])
def test_export_then_import_gives_the_same_registry(client, export_app, tmp_path, districts, fmt):
    before = export_app.extensions["workermap"].registry
    path = tmp_path / f"export.{fmt}"
    path.write_bytes(download(client, f"format={fmt}&{ALL_STATUSES}").data)
    write_registry(tmp_path / "fresh" / "facilities.geojson", [])
    fresh = open_test_store(tmp_path / "fresh")
    report = fresh.import_file(path, replace=True)
    assert report.written, [str(p) for p in report.problems]
    assert fresh.load().facilities == before.facilities


@pytest.mark.parametrize("query", [
    "", "kind=station,apartment", "district=市北区", "amenity=rest,toilet", "bbox=120.38,36.06,120.39,36.07",
    "status=removed", "datetime=2025-01-01/..", "near=120.3843,36.062&radius_m=800",
])
def test_same_filters_and_order_as_the_items_endpoint(client, query):
    doc = json.loads(download(client, f"format=geojson&{query}").data)
    items = client.get(f"/ogc/collections/facilities/items?limit=10000&{query}").get_json(force=True)
    assert [f["id"] for f in doc["features"]] == [f["id"] for f in items["features"]]
    if "near" in query:
        assert [f["properties"]["distance_m"] for f in doc["features"]] == [
            f["properties"]["distance_m"] for f in items["features"]]


def test_csv_has_bom_and_optional_gcj02_columns(client):
    text = download(client, "format=csv&crs=gcj02").data.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert list(rows[0])[-2:] == ["lon_gcj02", "lat_gcj02"]
    row = next(r for r in rows if r["id"] == "t-004")
    lon, lat = convert(float(row["lon"]), float(row["lat"]), src="wgs84", dst="gcj02")
    assert float(row["lon_gcj02"]) == pytest.approx(lon, abs=1e-7)
    assert float(row["lat_gcj02"]) == pytest.approx(lat, abs=1e-7)
    assert row["district"] == "市北区"
    bd = next(csv.DictReader(io.StringIO(download(client, "format=csv&crs=bd09").data.decode()[1:])))
    assert "lon_bd09" in bd and "lon_gcj02" not in bd


def test_csv_with_near_has_a_distance_column(client):
    text = download(client, "format=csv&near=120.38,36.06").data.decode()
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    dist = [float(r["distance_m"]) for r in rows]
    assert dist == sorted(dist) and len(dist) == 7


def test_districts_csv_has_wkt_polygons(client):
    rows = list(csv.DictReader(io.StringIO(download(client, "format=csv&layer=districts").data.decode()[1:])))
    assert len(rows) == 10 and rows[0]["name"] == "市南区"
    geom = shapely.from_wkt(rows[0]["WKT"])
    assert geom.geom_type in ("Polygon", "MultiPolygon") and geom.is_valid


def test_kml_placemarks_escape_names_and_orient_rings(client):
    root = ET.fromstring(download(client, "format=kml").data)
    names = [pm.findtext(f"{KML}name") for pm in root.iter(f"{KML}Placemark")]
    assert len(names) == 7 and XSS in names  # the text, escaped by the writer and unescaped by the parser
    root = ET.fromstring(download(client, "format=kml&layer=districts&district=黄岛区").data)
    rings = [r.text.split() for r in root.iter(f"{KML}outerBoundaryIs")
             for r in r.iter(f"{KML}coordinates")]
    assert rings and all(shapely.is_ccw(shapely.linearrings([tuple(map(float, p.split(","))) for p in ring]))
                         for ring in rings)


def test_gpkg_reads_back(client, tmp_path):
    import geopandas as gpd

    path = tmp_path / "f.gpkg"
    path.write_bytes(download(client, "format=gpkg&near=120.38,36.06").data)
    frame = gpd.read_file(path)
    assert len(frame) == 7 and frame.crs.to_epsg() == 4326
    assert XSS in set(frame["name"]) and list(frame["distance_m"]) == sorted(frame["distance_m"])


@pytest.mark.parametrize("query,param", [
    ("format=shp", "format"), ("layer=roads", "layer"), ("crs=gcj02", "crs"), ("format=kml&crs=bd09", "crs"),
    ("crs=utm", "crs"), ("layer=districts&kind=station", "kind"), ("layer=districts&crs=gcj02", "crs"),
    ("kind=spaceport", "kind"), ("bbox=1,2,3", "bbox"), ("radius_m=100", "radius_m"), ("limit=5", "limit"),
    ("format=", "format"),
])
def test_bad_parameters_are_400(client, query, param):
    err = error_of(client.get(f"/api/v1/export?{query}"))
    assert err["parameter"] == param and param in err["message"]


def test_export_districts_filtered(client):
    doc = json.loads(download(client, "layer=districts&district=370202,Laoshan").data)
    assert [f["id"] for f in doc["features"]] == ["370202", "370212"]


# -- GDAL: every export converts to a Shapefile and keeps the Chinese ----------------------------------

OPEN_OPTIONS = {
    ("facilities", "csv"): ["-oo", "X_POSSIBLE_NAMES=lon", "-oo", "Y_POSSIBLE_NAMES=lat",
                            "-a_srs", "EPSG:4326"],
    ("districts", "csv"): ["-a_srs", "EPSG:4326"],
    # GeoJSON keeps amenities/entry as JSON arrays (as the API and the registry file do); GDAL reads them as
    # StringList, which a Shapefile cannot hold: without this option ogr2ogr drops both fields with an ERROR.
    ("facilities", "geojson"): ["-mapFieldType", "StringList=String"],
}


@pytest.fixture(scope="module")
def sample_exports(sample_server, tmp_path_factory) -> dict[tuple[str, str], Path]:  # noqa: F811
    """Every export of the sample registry, downloaded over HTTP from the live server."""
    d = tmp_path_factory.mktemp("exports")
    out = {}
    for layer in ("facilities", "districts"):
        for fmt in FORMATS:
            with urllib.request.urlopen(f"{sample_server}/api/v1/export?format={fmt}&layer={layer}",
                                        timeout=60) as resp:
                disposition = resp.headers["Content-Disposition"]
                name = re.search(r'filename="([^"]+)"', disposition).group(1)
                path = d / name
                path.write_bytes(resp.read())
            out[(layer, fmt)] = path
    return out


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("layer,count,text", [("facilities", 1676, "工会驿站"),
                                              ("districts", 10, "市南区")])
def test_ogr2ogr_converts_every_export_to_shapefile_keeping_chinese(sample_exports, tmp_path, layer, count,
                                                                     text, fmt):
    ogr2ogr, ogrinfo = need_tool("ogr2ogr"), need_tool("ogrinfo")
    src = sample_exports[(layer, fmt)]
    dst = tmp_path / "shp"
    run = subprocess.run([ogr2ogr, "-f", "ESRI Shapefile", "-lco", "ENCODING=UTF-8",
                          *OPEN_OPTIONS.get((layer, fmt), []), str(dst), str(src)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "ERROR" not in run.stderr, run.stderr
    shp = next(dst.glob("*.shp"))
    info = subprocess.run([ogrinfo, "-ro", "-al", str(shp)], capture_output=True, text=True,
                          timeout=120).stdout
    assert int(re.search(r"Feature Count: (\d+)", info).group(1)) == count
    assert text in info and "??" not in info
    assert ("POINT (" if layer == "facilities" else "POLYGON ((") in info
    if layer == "facilities":
        assert "microwave" in re.search(r"amenities \(String\) = (.*)", info).group(1)


def test_unfiltered_downloads_are_cached_per_registry_version(client, export_app):
    st = export_app.extensions["workermap"]
    first = download(client, "format=csv").data
    assert download(client, "format=csv").data == first and len(st.export_cache) == 1
    filtered = download(client, "format=csv&kind=station").data
    assert filtered != first and len(st.export_cache) == 1  # filtered downloads are not kept
    st.swap(st.registry.merged([f for f in st.registry.facilities if f.id != "t-001"], replace=True))
    after = download(client, "format=csv").data.decode()
    assert "t-001" not in after and "t-002" in after


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_cli_function_gives_what_the_endpoint_gives(client, export_app, fmt):
    from geo.export import export_registry
    from geo.query import FacilityFilter

    st = export_app.extensions["workermap"]
    flt = FacilityFilter(kinds=("station",), near=(120.38, 36.06), radius_m=5000)
    body, n = export_registry(st.registry, st.districts, fmt, flt=flt)
    http = download(client, f"format={fmt}&kind=station&near=120.38,36.06&radius_m=5000").data
    if fmt == "gpkg":  # a GeoPackage embeds its creation time
        assert len(body) == len(http)
    else:
        assert body == http
    assert n == 5  # the live stations of OGC_FACILITIES, all within 5 km
    body, n = export_registry(st.registry, st.districts, fmt, layer="districts",
                              flt=FacilityFilter(districts=("市南区",)))
    http = download(client, f"format={fmt}&layer=districts&district=市南区").data
    assert n == 1 and (fmt == "gpkg" or body == http)


@pytest.mark.parametrize("fmt", ["geojson", "csv", "gpkg", "kml"])
def test_uncovered_layer_exports_read_by_gdal(client, tmp_path, fmt):
    """The planner's uncovered-area polygons as a download in every format; GDAL counts the features."""
    ogrinfo = need_tool("ogrinfo")
    fc = client.get("/api/v1/gaps?mode=walk&minutes=10&limit=7").get_json(force=True)
    r = client.get(f"/api/v1/export?layer=uncovered&format={fmt}&mode=walk&minutes=10&limit=7")
    assert r.status_code == 200 and "qingdao-uncovered" in r.headers["Content-Disposition"]
    path = tmp_path / f"u.{fmt}"
    path.write_bytes(r.data)
    extra = ["-oo", "GEOM_POSSIBLE_NAMES=WKT"] if fmt == "csv" else []
    out = subprocess.run([ogrinfo, "-ro", "-so", "-al", *extra, str(path)], capture_output=True, text=True,
                         check=True).stdout
    assert int(re.search(r"Feature Count: (\d+)", out).group(1)) == len(fc["features"]) > 0
    if fmt in ("geojson", "gpkg"):  # typed layers; CSV (WKT column) and KML report "Unknown (any)"
        assert "Polygon" in out


def test_uncovered_layer_refuses_facility_filters(client):
    r = client.get("/api/v1/export?layer=uncovered&bbox=120,36,121,37")
    assert r.status_code == 400 and r.get_json()["error"]["parameter"] == "bbox"
