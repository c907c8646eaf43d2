"""The offline basemap: the shipped file (rebuilt byte for byte, checked against the shoreline and the
full district polygons), its endpoint, WORKERMAP_TILES, the map skeleton's basemaps and the /map page."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import Point, shape

from geo.crs import to_metric
from geo.settings import SHIPPED_DATA, Settings
from tests.conftest import make_facility, write_registry
from tests.tools import need_module

REPO = Path(__file__).resolve().parent.parent
BASEMAP = SHIPPED_DATA / "basemap_qingdao_wgs84.geojson"
TILE_HOSTS = ("tile.openstreetmap.org", "autonavi.com", "tianditu.gov.cn")


def _load_build():
    spec = importlib.util.spec_from_file_location("build_basemap", REPO / "data" / "build_basemap.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def layers() -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for f in json.loads(BASEMAP.read_text(encoding="utf-8"))["features"]:
        out.setdefault(f["properties"]["layer"], []).append(f)
    return out


@pytest.fixture(scope="module")
def full_districts() -> dict[str, dict]:
    doc = json.loads((SHIPPED_DATA / "qingdao_districts_wgs84.geojson").read_text(encoding="utf-8"))
    return {f["properties"]["adcode"]: f for f in doc["features"]}


def _metric(geom):
    return shapely.transform(geom, lambda c: np.column_stack(to_metric(c[:, 0], c[:, 1])))


def test_shipped_basemap_is_exactly_what_the_build_makes():
    need_module("pypinyin")
    assert _load_build().build() == BASEMAP.read_bytes()


def test_layers_are_valid_and_the_districts_a_gapless_coverage(layers, full_districts):
    assert [len(layers[k]) for k in ("land", "district", "district_label", "place")] == [1, 10, 10, 38]
    geoms = [shape(f["geometry"]) for f in layers["land"] + layers["district"]]
    assert all(g.is_valid and g.geom_type == "MultiPolygon" for g in geoms)
    assert shapely.coverage_is_valid([shape(f["geometry"]) for f in layers["district"]])
    assert {f["properties"]["adcode"]: f["properties"]["name"] for f in layers["district"]} == {
        a: f["properties"]["name"] for a, f in full_districts.items()}


def test_simplified_districts_stay_close_to_the_full_polygons(layers, full_districts):
    """Hausdorff distance in EPSG:4549 metres (pyproj, shapely) between each simplified district and the
    parts of its full polygon it still draws, areas within 0.1 %; only islets under 0.03 km² are left out."""
    for f in layers["district"]:
        name = f["properties"]["name"]
        simple = _metric(shape(f["geometry"]))
        full = _metric(shape(full_districts[f["properties"]["adcode"]]["geometry"]))
        drawn = [p for p in full.geoms if p.intersects(simple)]
        assert simple.hausdorff_distance(shapely.MultiPolygon(drawn)) < 150, name
        assert all(p.area < 30_000 for p in full.geoms if not p.intersects(simple)), name
        assert abs(simple.area - full.area) / full.area < 0.001, name


# Independent of the districts: places known to be sea, and known land outside Qingdao.
SEA = {"胶州湾": (120.25, 36.14), "黄海 off 崂山": (120.80, 36.05), "灵山湾": (120.10, 35.85)}
NEIGHBOUR_LAND = {"高密 (潍坊)": (119.755, 36.383), "海阳 (烟台)": (121.158, 36.776), "日照": (119.527, 35.416)}


def test_land_is_land_and_sea_is_sea(layers, full_districts):
    land = shape(layers["land"][0]["geometry"])
    city = shapely.union_all([shape(f["geometry"]) for f in full_districts.values()])
    for name, (lon, lat) in SEA.items():
        assert not land.contains(Point(lon, lat)) and not city.contains(Point(lon, lat)), name
    for name, (lon, lat) in NEIGHBOUR_LAND.items():
        assert land.contains(Point(lon, lat)) and not city.contains(Point(lon, lat)), name
    # the city's land is land too: 95 % of its area lies in the shoreline's land (they differ by 100-200 m)
    assert _metric(city.intersection(land)).area > 0.95 * _metric(city).area


def test_labels_lie_in_their_districts(layers, full_districts):
    for f in layers["district_label"] + layers["place"]:
        district = shape(full_districts[f["properties"]["adcode"]]["geometry"])
        point = shape(f["geometry"])
        assert district.buffer(0.002).contains(point), f["properties"]  # 4-decimal rounding: ~10 m
    labels = {f["properties"]["adcode"]: shape(f["geometry"]) for f in layers["district_label"]}
    for adcode, point in labels.items():  # the pole of inaccessibility is well inside, not on an edge
        boundary = _metric(shape(full_districts[adcode]["geometry"]).boundary)
        assert boundary.distance(_metric(point)) > 500


def test_town_names_come_from_the_township_list(layers):
    """A Chinese town name is one of the district's townships (NBS codes) without its suffix."""
    import csv

    with (SHIPPED_DATA / "reference" / "qingdao_townships.csv").open(encoding="utf-8") as fh:
        towns = list(csv.DictReader(fh))
    places = {f["properties"]["name_en"]: f["properties"] for f in layers["place"]}
    assert places["Nancun"]["name"] == "南村" and places["Shazikou"]["name"] == "沙子口"
    assert places["Changjianglu"]["name"] == "长江路" and places["Qingdao"]["name"] == "青岛"
    assert places["Kutao"]["name"] == "Kutao"  # no township of that name: the romanised one
    for p in places.values():
        if re.search(r"[\u4e00-\u9fff]", p["name"]) and p["name_en"] != "Qingdao":
            names = [t["town_name"] for t in towns if t["county_code"] == p["adcode"]]
            assert any(n.startswith(p["name"]) for n in names) or p["name_en"] in ("Jiaozhou", "Pingdu", "Laixi",
                                                                                  "Jimo"), p


def test_endpoint_serves_the_file_compressed_and_refuses_parameters(sample_app):
    client = sample_app.test_client()
    r = client.get("/worker/basemap.geojson")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    assert r.data == BASEMAP.read_bytes()
    assert "max-age=86400" in r.headers["Cache-Control"]
    bad = client.get("/worker/basemap.geojson?simplify=1")
    assert bad.status_code == 400 and bad.get_json()["error"]["parameter"] == "simplify"


def test_tiles_setting_is_on_or_off():
    assert Settings().tiles == "on"
    assert Settings.from_env({"WORKERMAP_TILES": "off"}).tiles == "off"
    with pytest.raises(ValueError, match="WORKERMAP_TILES must be 'on' or 'off', got 'no'"):
        Settings.from_env({"WORKERMAP_TILES": "no"})


def _config(html: str) -> dict:
    return json.loads(re.search(r'<script[^>]* id="wm-config"[^>]*>(.*?)</script>', html, re.S)[1])


@pytest.mark.parametrize("path", ["/", "/planner", "/map"])
def test_pages_offer_the_offline_basemap_and_with_tiles_off_nothing_else(tmp_path, path):
    from web import create_app

    on = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": tmp_path / "on"}).test_client().get(path)
    html = on.get_data(as_text=True)
    ids = [b["id"] for b in _config(html)["map"]["basemaps"]]
    assert ids == ["osm", "amap", "offline"]
    assert json.dumps("离线底图 Offline map") in html  # the layer switcher's entry (folium escapes it)
    assert all(h in html for h in ("tile.openstreetmap.org", "autonavi.com"))
    assert not re.search(r"(tile_layer|feature_group)_\w+\.addTo\(map_", html)  # WM.Basemaps picks the first
    off = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": tmp_path / "off", "WORKERMAP_TILES": "off",
                      "TIANDITU_KEY": "k123"}).test_client().get(path)
    html = off.get_data(as_text=True)
    basemaps = _config(html)["map"]["basemaps"]
    assert [b["id"] for b in basemaps] == ["offline"] and basemaps[0]["url"] == "/worker/basemap.geojson"
    assert not any(h in html for h in (*TILE_HOSTS, "tileLayer", "{z}"))


def test_overview_page_is_a_real_page(sample_app):
    r = sample_app.test_client().get("/map")
    html = r.get_data(as_text=True)
    assert re.search(r"<title>青岛职工服务设施 · 全部设施地图</title>", html)
    assert re.search(r'<a class="btn back" href="/"', html)
    viewport = re.search(r'<meta name="viewport" content="([^"]+)"', html)[1]
    assert "user-scalable" not in viewport and "maximum-scale" not in viewport
    assert html.count('data-vocab="kinds"') == 5 and 'id="sample-notice"' in html
    nonce = re.search(r"'nonce-([^']+)'", r.headers["Content-Security-Policy"])[1]
    assert all(f'nonce="{nonce}"' in tag for tag in re.findall(r"<script[^>]*>", html))


def test_overview_has_no_sample_notice_for_a_real_registry(tmp_path):
    from web import create_app

    write_registry(tmp_path / "d" / "facilities.geojson", [make_facility(i) for i in range(3)], {"sample": False})
    html = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": tmp_path / "d"}).test_client().get("/map").get_data(
        as_text=True)
    assert 'id="sample-notice"' not in html


def test_compact_map_data_says_whether_hours_are_known(sample_app):
    doc = sample_app.test_client().get("/worker/facilities.geojson").get_json(force=True)
    assert "hours_known" in doc["metadata"]["fields"]
    assert all(f["properties"]["hours_known"] is ("opening_hours" in f["properties"]) for f in doc["features"])
