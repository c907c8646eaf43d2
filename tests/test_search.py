"""Place search (issue #11 item 6): the core (geo.search), GET /api/v1/search and ``workermap search``.

References are independent of the code under test where they can be: GeoNames coordinates are read from
the shipped reference file, township means are computed here, positions are checked against the district
polygons, and pinyin readings are written out.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli import main
from geo.params import DEFAULT_SEARCH_LIMIT, MAX_PARAM_LEN, MAX_SEARCH_LIMIT
from geo.registry import Registry
from geo.search import GAZETTEER_FILE, PINYIN_FILE, Entry, gazetteer, shipped_rows, spell
from geo.settings import SHIPPED_DATA
from tests.conftest import make_facility, shipped_sample, write_registry
from tests.tools import need_module

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sample_gazetteer():
    registry, _ = shipped_sample()
    return gazetteer(registry.facilities)


def _geonames() -> dict[str, tuple[float, float]]:
    doc = json.loads((SHIPPED_DATA / "reference" / "qingdao_geonames_places_wgs84.geojson").read_text("utf-8"))
    return {f["properties"]["name"]: tuple(f["geometry"]["coordinates"]) for f in doc["features"]}


def _top(g, query: str):
    results = g.search(query)
    assert results, f"nothing found for {query!r}"
    return results[0]


# -- districts and townships by Chinese, pinyin and English names -------------------------------------------

@pytest.mark.parametrize("query", ["市南区", "市南", "Shinan", "shinan", "SHINAN", "Shìnán", "shì nán", "shi nan",
                                   "Shinan District", "shinanqu", "Shi Nan Qu", "Shinna", "Shiann"])
def test_a_district_by_chinese_pinyin_english_and_with_typos(sample_gazetteer, query):
    r = _top(sample_gazetteer, query)
    assert (r.type, r.name, r.name_en, r.district) == ("district", "市南区", "Shinan", "市南区")


@pytest.mark.parametrize(("query", "name"), [
    ("李仓", "李沧区"),  # 仓 cāng for 沧 cāng: the same sound, another character
    ("Licang", "李沧区"), ("胶州", "胶州市"), ("Jiaozhou City", "胶州市"), ("Jiaozou", "胶州市"),
    ("西海岸新区", "黄岛区"), ("West Coast New Area", "黄岛区"), ("Huangdao", "黄岛区"), ("laoshan", "崂山区"),
])
def test_districts_by_other_names_and_typos(sample_gazetteer, query, name):
    r = _top(sample_gazetteer, query)
    assert (r.type, r.name) == ("district", name)


@pytest.mark.parametrize(("query", "name"), [
    ("南村镇", "南村镇"), ("南村", "南村镇"), ("Nancun", "南村镇"), ("nán cūn", "南村镇"), ("Nancun Town", "南村镇"),
    ("香港中路", "香港中路街道"), ("xianggang zhonglu", "香港中路街道"),
    ("Xianggangzhonglu Subdistrict", "香港中路街道"),
    ("香港中鲁", "香港中路街道"),  # a character of the same sound
    ("xianggangzhonlu", "香港中路街道"),  # a letter left out
    ("changjianglu", "长江路街道"),  # 长 read chang in 长江 (pypinyin's phrases), not zhang
])
def test_townships_by_chinese_pinyin_english_and_with_typos(sample_gazetteer, query, name):
    r = _top(sample_gazetteer, query)
    assert (r.type, r.name) == ("township", name)


def test_polyphones_are_read_as_in_the_place_name():
    rows = {r["name"]: r for r in shipped_rows()}
    assert rows["长江路街道"]["pinyin"] == "chang jiang lu jie dao"
    assert rows["泊里镇"]["short_pinyin"] == "bo li"
    assert rows["段泊岚镇"]["name_en"] == "Duanbolan Town"
    assert rows["大场镇"]["short_pinyin"] == "da chang"
    assert rows["市南区"]["short_pinyin"] == "shi nan"


def test_spelling_uses_each_characters_common_reading():
    assert spell("李沧") == spell("李仓") == "licang"
    assert spell("绿") == "lv" and spell("青岛 Station 1号") == "qingdaostation1hao"


# -- where places are -------------------------------------------------------------------------------------

def test_a_township_with_a_geonames_seat_is_there():
    nancun = _geonames()["Nancun"]
    far = [make_facility(i, township="南村镇", district_adcode="370283", district="平度市", lon=119.9, lat=36.7)
           for i in range(3)]
    (r,) = [r for r in gazetteer(far).search("南村镇") if r.type == "township"]
    assert (r.lon, r.lat) == pytest.approx(nancun, abs=1e-6)
    assert r.district == "平度市"


def test_a_township_without_a_seat_is_at_the_mean_of_its_facilities():
    points = [(120.36, 36.05), (120.37, 36.06), (120.38, 36.08)]
    facilities = [make_facility(i, township="湛山街道", lon=lon, lat=lat) for i, (lon, lat) in enumerate(points)]
    facilities.append(make_facility(9, township="湛山街道", lon=121.0, lat=37.0, status="removed"))  # not counted
    (r,) = [r for r in gazetteer(facilities).search("湛山街道") if r.type == "township"]
    assert r.lon == pytest.approx(sum(p[0] for p in points) / 3, abs=1e-6)
    assert r.lat == pytest.approx(sum(p[1] for p in points) / 3, abs=1e-6)


def test_a_township_with_neither_a_seat_nor_facilities_is_left_out():
    assert not [r for r in gazetteer().search("湛山街道") if r.type == "township"]
    facility = make_facility(1, township="湛山街道")
    assert [r.name for r in gazetteer([facility]).search("湛山街道") if r.type == "township"] == ["湛山街道"]


def test_a_township_the_gazetteer_does_not_know_comes_from_the_registry():
    new = [make_facility(1, township="新城街道", lon=120.40, lat=36.10)]
    r = _top(gazetteer(new), "新城")
    assert (r.type, r.name, r.lon, r.lat, r.district) == ("township", "新城街道", 120.40, 36.10, "市南区")


def test_every_shipped_position_lies_in_its_district(districts):
    rows = [r for r in shipped_rows() if r["lon"]]
    assert len(rows) == 44
    located = districts.locate([float(r["lon"]) for r in rows], [float(r["lat"]) for r in rows])
    assert [r["name"] for r, adcode in zip(rows, located, strict=True) if adcode != r["district_adcode"]] == []


def test_geonames_places_keep_their_coordinates_and_are_listed_once():
    places = _geonames()
    g = gazetteer()
    kutao = _top(g, "Kutao")
    assert (kutao.type, kutao.name, kutao.name_en) == ("place", "Kutao", "Kutao")
    assert (kutao.lon, kutao.lat) == pytest.approx(places["Kutao"], abs=1e-6)
    city = _top(g, "青岛")
    assert (city.type, city.name, city.name_en) == ("place", "青岛", "Qingdao")
    assert (city.lon, city.lat) == pytest.approx(places["Qingdao"], abs=1e-6)
    assert _top(g, "Qingdao").name == "青岛"
    # Nancun is the seat of 南村镇: found once, as the township
    assert [(r.type, r.name) for r in g.search("Nancun") if (r.lon, r.lat) == pytest.approx(places["Nancun"])] == [
        ("township", "南村镇")]
    jiaozhou = _top(g, "Jiaozhou")
    assert (jiaozhou.type, (jiaozhou.lon, jiaozhou.lat)) == ("district", pytest.approx(places["Jiaozhou"]))


# -- facilities ---------------------------------------------------------------------------------------------

def test_facilities_by_name_address_and_parts_of_them(sample_gazetteer):
    registry, _ = shipped_sample()
    f = next(f for f in registry.facilities if f.address == "青岛市市南区香港中路街道延安路299号")
    for query in (f.name, f.address, "延安路299号", "香港中路街道丰盛社区"):
        r = _top(sample_gazetteer, query)
        assert (r.type, r.id, r.name, r.lon, r.lat, r.district) == (
            "facility", f.id, f.name, round(f.lon, 6), round(f.lat, 6), "市南区"), query
    # the characters of the query in another order and with words left out: 香港中路…工会驿站
    hits = sample_gazetteer.search("香港中路工会驿站", limit=50)
    assert hits and all(r.type == "facility" and r.name.startswith("香港中路街道") and r.name.endswith("工会驿站")
                        for r in hits)


def test_a_district_name_inside_another_word_of_an_address_is_not_a_match(sample_gazetteer):
    # 莱西市南墅镇… holds 市南 across two words: searching 市南 gives 市南区, not facilities in 莱西市
    assert [(r.type, r.name) for r in sample_gazetteer.search("市南")] == [("district", "市南区")]


def test_removed_facilities_are_not_found():
    facilities = [make_facility(1, name="海泊河驿站"), make_facility(2, name="海泊河驿站二", status="removed")]
    assert [r.id for r in gazetteer(facilities).search("海泊河驿站") if r.type == "facility"] == ["t-001"]


def test_extra_entries_such_as_landmarks_are_searched_with_pinyin():
    square = Entry("landmark", "五四广场", 120.3843, 36.0620, name_en="May Fourth Square", district="市南区")
    g = gazetteer(extra=[square])
    for query in ("五四广场", "wusi guangchang", "Wǔsì Guǎngchǎng", "May Fourth Square", "五四广厂"):
        r = _top(g, query)
        assert (r.type, r.name, r.district, r.lon, r.lat) == ("landmark", "五四广场", "市南区", 120.3843, 36.062), query
    assert gazetteer().search("五四广场") == []  # without it: nothing


def test_results_best_first_within_limits(sample_gazetteer):
    for query in ("工会驿站", "s", "南", "Huangdao", "延安路"):
        results = sample_gazetteer.search(query, limit=MAX_SEARCH_LIMIT)
        scores = [r.score for r in results]
        assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores), query
        assert len(results) <= MAX_SEARCH_LIMIT
    assert len(sample_gazetteer.search("工会驿站", limit=3)) == 3
    assert sample_gazetteer.search("  ·-  ") == [] and sample_gazetteer.search("zzzzqqqq") == []


# -- the shipped files are what the build script makes ----------------------------------------------------

def test_the_shipped_gazetteer_is_rebuilt_byte_for_byte(tmp_path):
    pypinyin = need_module("pypinyin")
    if pypinyin.__version__ != "0.55.0":
        pytest.skip(f"the shipped files were made with pypinyin 0.55.0, this is {pypinyin.__version__}")
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_gazetteer", ROOT / "data" / "build_gazetteer.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    files = build.build(tmp_path)
    for name in (GAZETTEER_FILE, PINYIN_FILE):
        assert files[name] == (SHIPPED_DATA / name).read_bytes(), name


# -- GET /api/v1/search -----------------------------------------------------------------------------------

def test_the_api_answers_as_the_contract_says(sample_app):
    r = sample_app.test_client().get("/api/v1/search?q=Shinan")
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) == {"query", "count", "results"} and body["query"] == "Shinan"
    assert body["count"] == len(body["results"]) >= 1
    first = body["results"][0]
    assert set(first) == {"type", "name", "name_en", "district", "lon", "lat", "id", "score"}
    assert (first["type"], first["name"], first["name_en"], first["district"], first["id"], first["score"]) == (
        "district", "市南区", "Shinan", "市南区", None, 1.0)
    many = sample_app.test_client().get("/api/v1/search?q=工会驿站").get_json()
    assert many["count"] == DEFAULT_SEARCH_LIMIT
    assert sample_app.test_client().get(f"/api/v1/search?q=工会驿站&limit={MAX_SEARCH_LIMIT}").get_json()[
        "count"] == MAX_SEARCH_LIMIT
    assert sample_app.test_client().get("/api/v1/search?q=" + "a" * MAX_PARAM_LEN).status_code == 200


@pytest.mark.parametrize(("query", "parameter"), [
    ("", "q"), ("q=", "q"), ("q=%20%20", "q"), ("q=%E3%80%82%EF%BC%8C", "q"), (f"q={'a' * (MAX_PARAM_LEN + 1)}", "q"),
    ("q=x&limit=0", "limit"), (f"q=x&limit={MAX_SEARCH_LIMIT + 1}", "limit"), ("q=x&limit=ten", "limit"),
    ("q=x&limit=1.5", "limit"), ("q=x&near=120,36", "near"),
])
def test_bad_input_is_a_400_in_the_one_error_shape(client, query, parameter):
    r = client.get(f"/api/v1/search?{query}")
    assert r.status_code == 400, r.get_data(as_text=True)
    err = r.get_json()["error"]
    assert err["status"] == 400 and err["parameter"] == parameter and err["message"]
    assert err["code"] in ("invalid_parameter", "missing_parameter", "unknown_parameter")


def test_the_index_follows_the_registry_version(app):
    client = app.test_client()
    assert [r["id"] for r in client.get("/api/v1/search?q=台东工会驿站").get_json()["results"]] == ["t-004"]
    renamed = make_facility(4, name="登州路工会驿站", lon=120.3525, lat=36.0880, district_adcode="370203",
                            district="市北区")
    app.extensions["workermap"].swap(Registry((make_facility(1), renamed), version="2"))
    assert "台东工会驿站" not in [r["name"] for r in client.get("/api/v1/search?q=台东工会驿站").get_json()["results"]]
    assert client.get("/api/v1/search?q=登州路工会驿站").get_json()["results"][0]["id"] == "t-004"


# -- workermap search -------------------------------------------------------------------------------------

def test_the_command_prints_what_the_api_answers(runner, tmp_path, client):
    data = tmp_path / "cli-data"
    write_registry(data / "facilities.geojson")
    r = runner.invoke(main, ["search", "台东", "--limit", "3", "--json", "--data-dir", str(data)],
                      catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == client.get("/api/v1/search?q=台东&limit=3").get_json()
    table = runner.invoke(main, ["search", "Shinan", "--data-dir", str(data)], catch_exceptions=False)
    assert table.exit_code == 0 and "市南区" in table.output and "Shinan" in table.output
    none = runner.invoke(main, ["search", "zzzzqqqq", "--data-dir", str(data)], catch_exceptions=False)
    assert none.exit_code == 0 and "nothing found" in none.output


@pytest.mark.parametrize(("args", "says"), [
    (["   "], "q must be"), (["x" * (MAX_PARAM_LEN + 1)], "at most 500 characters"),
    (["x", "--limit", "0"], "--limit"),
])
def test_the_command_refuses_what_the_api_refuses(runner, tmp_path, args, says):
    data = tmp_path / "cli-data"
    write_registry(data / "facilities.geojson")
    r = runner.invoke(main, ["search", *args, "--data-dir", str(data)], catch_exceptions=False)
    assert r.exit_code == 2 and says in r.stderr, r.stderr
    assert "Traceback" not in r.output
