"""The planner page as a planner uses it (issue #12 items 1-5, 7), at desktop 1280×800 and phone 390×844, zh and en.

Figures on the page are compared with the API's own answers (asked through the Flask test client with the
same parameters), never with numbers restated here.
"""

from __future__ import annotations

import math
from urllib.parse import parse_qsl

import pytest

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
LANGS = pytest.mark.parametrize("lang", ["zh", "en"])


def _open(page, viewport, lang="zh"):
    page.set_viewport_size(viewport)
    page.goto("/planner")
    page.wait_for_selector("body[data-state=ready]", state="attached")
    page.wait_for_function("() => ['ready', 'error', 'missing'].includes(document.body.dataset.coverage)",
                           timeout=60_000)
    assert page.evaluate("() => document.body.dataset.coverage") == "ready"
    if lang == "en":
        page.click("#lang")
    return page


def _wait(page, name, timeout=90_000):
    page.wait_for_function(f"() => ['ready', 'error', 'missing'].includes(document.body.dataset.{name})",
                           timeout=timeout)
    assert page.evaluate(f"() => document.body.dataset.{name}") == "ready", name


def _run_plan(page, add=3):
    page.fill("#p-add", str(add))
    page.click("#plan-form button[type=submit]")
    _wait(page, "plan")


def _metres(a, b):
    """Haversine metres between two (lat, lng) pairs (an independent check of where the map went)."""
    r = 6_371_008.8
    p1, p2 = math.radians(a[0]), math.radians(b[0])
    dp, dl = p2 - p1, math.radians(b[1] - a[1])
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(h))


def _center(page):
    c = page.evaluate("() => { const c = WM.planner.map.getCenter(); return [c.lat, c.lng]; }")
    return tuple(c)


def _to_map(page, lon, lat):
    return tuple(page.evaluate("([lon, lat]) => { const p = WM.planner.basemaps.toMap(lon, lat); "
                               "return [p.lat, p.lng]; }", [lon, lat]))


def _no_sideways(page):
    width = page.viewport_size["width"]
    scroll = page.evaluate("() => document.scrollingElement.scrollWidth")
    assert scroll <= width, f"page is {scroll} px wide on a {width} px screen"


# --------------------------------------------------------------------------- item 7


@LANGS
@VIEWPORTS
def test_planner_reads_no_sideways_scroll_curve_pins_row_zoom(page, page_log, traffic, screenshots, viewport, lang):
    _open(page, viewport, lang)
    _no_sideways(page)
    _run_plan(page, 4)
    _no_sideways(page)
    plan = page.evaluate("() => WM.planner.plan")
    # the gain curve: both axes, labelled with units, one point per step of the API's curve
    svg = page.locator("#plan-curve svg.curve")
    assert svg.count() == 1
    x_label = "新增站点数（个）" if lang == "zh" else "sites added"
    y_label = "累计覆盖率（%）" if lang == "zh" else "covered (%)"
    assert svg.locator("text.axis-x").text_content() == x_label
    assert svg.locator("text.axis-y").text_content() == y_label
    assert svg.locator("line.axis").count() == 2
    assert svg.locator("circle").count() == len(plan["curve"])
    ticks = [float(x) for x in svg.locator("text.tick-y").all_text_contents()]
    pcts = [c["pct"] for c in plan["curve"]]
    assert min(ticks) <= min(pcts) and max(ticks) >= max(pcts)
    # rank pins: square numbered pins, not cluster bubbles
    pins = page.locator(".leaflet-marker-icon.wm-rank-pin")
    assert pins.count() == len(plan["sites"])
    assert sorted(pins.all_inner_texts()) == sorted(str(s["rank"]) for s in plan["sites"])
    assert page.locator(".leaflet-marker-icon.wm-rank-pin.marker-cluster").count() == 0
    radius = page.evaluate("() => getComputedStyle(document.querySelector('.wm-rank-pin span')).borderRadius")
    assert radius != "50%" and float(radius.rstrip("px")) <= 4
    # a click on a site row zooms to it
    page.evaluate("() => WM.planner.map.setView([36.0, 120.0], 9, {animate: false})")
    last = plan["sites"][-1]
    page.locator(f"#sites-table tbody tr[data-rank='{last['rank']}']").click()
    page.wait_for_timeout(400)
    assert page.evaluate("() => WM.planner.map.getZoom()") >= 15
    assert _metres(_center(page), _to_map(page, last["lon"], last["lat"])) < 30
    # assumptions in words, the demand source in words
    text = page.locator("#assumptions").inner_text()
    status = page.locator("#plan-status").inner_text()
    if lang == "zh":  # the planner's default travel model: over land
        assert "步行 15 分钟（4.8 km/h），按路线所需时间算覆盖" in text and "陆路最短路径（不跨海）" in text
        assert "模型估算" in text and "模型估算" in status and "贪心" in status
    else:
        assert "15 min walk (4.8 km/h) by route" in text and "over land (never across the sea)" in text
        assert "modelled" in text.lower() and "greedy" in status
    assert "=" not in text and "_" not in text
    assert "modelled ·" not in status and "需求来源:" not in status
    page.screenshot(path=str(screenshots / f"planner-read-{lang}-{viewport['width']}.png"), full_page=True)
    assert page_log.errors == []


# --------------------------------------------------------------------------- item 2, page side


@VIEWPORTS
def test_changed_parameters_mark_results_stale_and_slow_work_shows_progress(page, page_log, traffic, viewport):
    _open(page, viewport)
    _run_plan(page, 2)
    assert page.locator("#stale").is_hidden()
    page.fill("#c-minutes", "10")
    page.locator("#c-minutes").dispatch_event("change")
    assert page.locator("#stale").is_visible()
    assert page.locator("#stale").inner_text() == "参数已更改，请重新运行"
    assert "stale" in page.locator("#sites-table").get_attribute("class")
    assert page.evaluate("() => document.body.dataset.stale") == "true"
    opacities = page.evaluate("() => WM.planner.layers.sites.getLayers().map(m => m.options.opacity)")
    assert opacities and all(o < 1 for o in opacities)
    # screen and report share the parameters: the report link carries the form's plan parameters
    href = page.locator("#dl-report").get_attribute("href")
    assert href.endswith("?" + page.evaluate("() => WM.planner.planParams().toString()"))
    assert "minutes=10" in href and "add=2" in href
    # back to the old value: the results match again
    page.fill("#c-minutes", "15")
    page.locator("#c-minutes").dispatch_event("change")
    assert page.locator("#stale").is_hidden()

    # a slow answer (held 1.2 s) shows the spinner and aria-busy until it arrives
    def slow(route):
        page.wait_for_timeout(1200)
        route.continue_()

    page.route("**/api/v1/coverage?*", slow)
    page.click("#coverage-form button[type=submit]")
    page.wait_for_selector("#busy", state="visible", timeout=2000)
    busy = page.evaluate("() => document.querySelector('#controls-title').parentNode.getAttribute('aria-busy')")
    assert busy == "true"
    # the indicator sits below the header bar, never over its title or links
    assert page.locator("#busy").bounding_box()["y"] >= page.locator("#bar").bounding_box()["y"] + \
        page.locator("#bar").bounding_box()["height"]
    _wait(page, "coverage")
    page.wait_for_selector("#busy", state="hidden", timeout=15_000)
    assert page.evaluate("() => document.body.getAttribute('aria-busy')") == "false"
    assert page_log.errors == []


# --------------------------------------------------------------------------- item 3


def _click_latlng(page, lat, lng):
    x, y = page.evaluate("""([lat, lng]) => {
        document.getElementById("map-box").scrollIntoView({block: "start"});
        WM.planner.map.setView([lat, lng], 15, {animate: false});
        const p = WM.planner.map.latLngToContainerPoint([lat, lng]);
        const box = WM.planner.map.getContainer().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
    }""", [lat, lng])
    page.mouse.click(x, y)


@LANGS
@VIEWPORTS
def test_whatif_close_add_and_24h_on_the_map(page, page_log, traffic, flask_app, screenshots, viewport, lang):
    client = flask_app.test_client()
    served = client.get("/api/v1/coverage/facilities").get_json()["facilities"]
    busiest = max(served, key=lambda f: f["workers_served"])
    _open(page, viewport, lang)
    page.locator("#whatif").scroll_into_view_if_needed()
    page.get_by_label("编辑情景" if lang == "zh" else "Edit scenario").check()
    page.wait_for_function("() => WM.planner.layers.whatif && WM.planner.layers.whatif.getLayers().length > 100",
                           timeout=30_000)
    # click the busiest facility and close it
    lat, lng = _to_map(page, busiest["lon"], busiest["lat"])
    page.evaluate("id => WM.planner.layers.whatif.getLayers().find(m => m.facilityId === id).bringToFront()",
                  busiest["id"])
    _click_latlng(page, lat, lng)
    page.wait_for_selector(".leaflet-popup-content .w-popup")
    assert page.locator(".leaflet-popup-content .w-popup b").inner_text() == busiest["name"]
    page.locator(".leaflet-popup-content .w-close").click()
    _wait(page, "whatif")
    expected = client.post("/api/v1/whatif", json={"close": [busiest["id"]], "mode": "walk", "minutes": 15,
                                                   "kind": "station"}).get_json()
    got = page.evaluate("() => WM.planner.whatif")
    assert got["rows"] == expected["rows"]
    city = expected["rows"][0]
    before = city["workers"] - city["today_uncovered_workers"]
    after = city["workers"] - city["scenario_uncovered_workers"]
    row = page.locator("#whatif-table tbody tr").first.inner_text()
    assert f"{round(before):,}" in row and f"{round(after):,}" in row
    assert f"{city['today_workers_covered_pct']:.2f}%" in row and f"{city['scenario_workers_covered_pct']:.2f}%" in row
    assert page.locator("#whatif-table tbody tr").count() == len(expected["rows"]) == 11
    # the areas newly uncovered are drawn and listed
    n_lost = len(expected["newly_uncovered"]["features"])
    assert n_lost >= 1
    assert page.evaluate("() => WM.planner.layers.lost.getLayers().length") == n_lost
    assert page.evaluate("() => WM.planner.map.hasLayer(WM.planner.layers.lost)")
    first = expected["newly_uncovered"]["features"][0]["properties"]
    assert first["place"] in page.locator("#w-lost li").first.inner_text()

    # click an empty spot of the map: a new site there, coverage goes up against the closed-only scenario
    _click_latlng(page, lat, lng)  # the same place (the facility is now grey): a new site replaces it
    page.keyboard.press("Escape")
    page.wait_for_function("() => WM.planner.scenario.add.length === 1 || "
                           "document.querySelector('.leaflet-popup-content .w-popup')", timeout=5000)
    if page.evaluate("() => WM.planner.scenario.add.length") == 0:  # the click opened the marker's popup
        page.evaluate("() => WM.planner.map.closePopup()")
        off = _to_map(page, busiest["lon"] + 0.0015, busiest["lat"])
        _click_latlng(page, *off)
    _wait(page, "whatif")
    add = page.evaluate("() => WM.planner.scenario.add")
    assert len(add) == 1
    got = page.evaluate("() => WM.planner.whatif")
    assert got["scenario"]["added"][0]["lon"] == pytest.approx(add[0][0])
    assert got["rows"][0]["scenario_uncovered_workers"] < city["scenario_uncovered_workers"]
    page.screenshot(path=str(screenshots / f"planner-whatif-{lang}-{viewport['width']}.png"), full_page=False)
    _no_sideways(page)
    assert page_log.errors == []


def test_whatif_make_24h_at_night(page, page_log, traffic, flask_app):
    """At 02:00 a facility that is not open then can be made 24-hour: the scenario counts it, as the API says."""
    client = flask_app.test_client()
    _open(page, DESKTOP)
    page.select_option("#c-open-at", "02:00")
    page.click("#coverage-form button[type=submit]")
    _wait(page, "coverage")
    q = page.evaluate("() => WM.planner.params().toString()")
    now = {f["id"] for f in client.get("/api/v1/coverage/facilities?" + q).get_json()["facilities"]}
    anytime = client.get("/api/v1/coverage/facilities").get_json()["facilities"]
    shut = max((f for f in anytime if f["id"] not in now), key=lambda f: f["workers_served"])
    page.get_by_label("编辑情景").check()
    page.wait_for_function("() => WM.planner.layers.whatif && WM.planner.layers.whatif.getLayers().length > 100",
                           timeout=30_000)
    page.evaluate("id => { const m = WM.planner.layers.whatif.getLayers().find(m => m.facilityId === id); "
                  "WM.planner.map.setView(m.getLatLng(), 15, {animate: false}); m.openPopup(); }", shut["id"])
    assert page.locator(".leaflet-popup-content .w-close").is_disabled()  # not counted at 02:00: nothing to close
    page.locator(".leaflet-popup-content .w-24h").click()
    _wait(page, "whatif")
    body = dict(parse_qsl(q))
    body["minutes"] = float(body["minutes"])
    expected = client.post("/api/v1/whatif", json={**body, "add": [[shut["lon"], shut["lat"]]]}).get_json()
    got = page.evaluate("() => WM.planner.whatif")
    assert got["rows"] == expected["rows"]
    assert got["rows"][0]["delta_uncovered_workers"] < 0
    assert "24" in page.locator("#w-changes").inner_text()
    assert page_log.errors == []


# --------------------------------------------------------------------------- items 1, 4, 5 (page side)


@VIEWPORTS
def test_hot_spots_listed_and_below_floor_per_district(page, page_log, traffic, flask_app, viewport):
    _open(page, viewport)
    gaps = page.evaluate("() => WM.planner.gaps")
    items = page.locator("#hotspots li")
    assert items.count() == min(20, len(gaps["features"]))
    for k in range(3):
        p = gaps["features"][k]["properties"]
        text = items.nth(k).inner_text()
        assert p["place"] in text and p["district"] in text and f"{round(p['uncovered_workers']):,}" in text
    below = {r["adcode"]: r["uncovered_workers"] for r in gaps["below_floor"]}
    for adcode, v in below.items():
        cell = page.locator(f"#district-table tbody tr[data-adcode='{adcode}'] td").last.inner_text()
        assert cell == f"{math.floor(v + 0.5):,}"  # the page rounds half up (Math.round), Python's round to even
    # a popup of the layer: rank, place, district, workers
    p = gaps["features"][0]["properties"]
    items.first.click()
    page.wait_for_timeout(300)
    assert _metres(_center(page), _to_map(page, p["centroid_lon"], p["centroid_lat"])) < 30
    popup = page.locator(".leaflet-popup-content").inner_text()
    assert f"#{p['rank']}" in popup and p["place"] in popup and p["district"] in popup
    _no_sideways(page)
    assert page_log.errors == []


@LANGS
@VIEWPORTS
def test_access_layer_usage_panel_and_recommendations(page, page_log, traffic, flask_app, viewport, lang):
    client = flask_app.test_client()
    _open(page, viewport, lang)
    page.get_by_label("可达性（人均座位）" if lang == "zh" else "Access (places per person)").check()
    _wait(page, "access")
    expected = client.get("/api/v1/access?" + page.evaluate("() => WM.planner.params().toString()") + "&limit=50")
    expected = expected.get_json()
    layers = page.evaluate("() => WM.planner.layers.access.getLayers().map(l => l.getLayers ? l.getLayers().length "
                           ": 'image')")
    assert layers == ["image", len(expected["shortage"]["features"])]
    page.wait_for_function("() => document.querySelector('.wm-access').complete && "
                           "document.querySelector('.wm-access').naturalWidth > 1", timeout=15_000)
    assert page.locator("#access-legend li").count() == len(expected["grid"]["legend"])

    page.locator("#u-load").click()
    _wait(page, "usage")
    usage = client.get("/api/v1/usage").get_json()
    recs = client.get("/api/v1/recommendations?" + page.evaluate("() => WM.planner.params().toString()")).get_json()
    assert usage["usage"]["synthetic"]
    note = page.locator("#usage-note")
    assert note.is_visible() and ("合成" in note.inner_text() if lang == "zh" else "Synthetic" in note.inner_text())
    assert page.locator("#usage-table tbody tr").count() == len(usage["districts"])
    assert page.locator(".usage-bars rect").count() == 24
    assert page.locator(".usage-bars rect.night").count() == 8
    items = page.locator("#recs li")
    assert items.count() == min(30, len(recs["recommendations"]))
    r0 = recs["recommendations"][0]
    assert items.first.locator(".why").inner_text() == (r0["reason_zh"] if lang == "zh" else r0["reason"])
    _no_sideways(page)
    assert page_log.errors == []


def test_whatif_newly_uncovered_areas_hold_the_lost_demand(flask_app):
    """The API's newly uncovered areas (drawn by the page) hold exactly the workers the closures leave uncovered,
    per district and for the city (closing only loses coverage, so the areas and the table must agree)."""
    client = flask_app.test_client()
    served = sorted(client.get("/api/v1/coverage/facilities").get_json()["facilities"],
                    key=lambda f: -f["workers_served"])[:3]
    w = client.post("/api/v1/whatif", json={"close": [f["id"] for f in served]}).get_json()
    feats = w["newly_uncovered"]["features"]
    assert feats and [f["properties"]["rank"] for f in feats] == list(range(1, len(feats) + 1))
    city, districts = w["rows"][0], w["rows"][1:]
    assert sum(f["properties"]["uncovered_workers"] for f in feats) == pytest.approx(
        city["delta_uncovered_workers"], abs=0.1 * len(feats) + 0.01)
    for d in districts:
        mine = sum(f["properties"]["uncovered_workers"] for f in feats if f["properties"]["adcode"] == d["adcode"])
        assert mine == pytest.approx(d["delta_uncovered_workers"], abs=0.1 * len(feats) + 0.01)
    ws = [f["properties"]["uncovered_workers"] for f in feats]
    assert ws == sorted(ws, reverse=True)
    # nothing lost when only adding
    w = client.post("/api/v1/whatif", json={"add": [[120.40, 36.08]]}).get_json()
    assert w["newly_uncovered"]["features"] == []
