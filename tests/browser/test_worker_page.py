"""The worker finder in a real browser: clusters, nearest list (open now first), filters, language, datums, XSS,
keyboard. The page's newer behaviour on a registry built for it: tests/browser/test_worker_flows.py."""

from __future__ import annotations

import random
import re
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from geo.datum import wgs84_to_bd09, wgs84_to_gcj02
from geo.navigation import navigation_links
from tests.browser.conftest import HOME, XSS_ID, XSS_NAME, list_seq, wait_list

VISIBLE_IDS = "() => Object.values(WM.worker.groups).flatMap(g => g.getLayers().map(m => m.feature.id))"
LIST_IDS = "() => Array.from(document.querySelectorAll('#list li.hit')).map(li => li.dataset.id)"
LIST_K = 8


def _state(flask_app):
    return flask_app.extensions["workermap"]


def _api_nearest(flask_app, **params):
    q = {"lon": f"{HOME['lon']:.7f}", "lat": f"{HOME['lat']:.7f}", "k": LIST_K, "open_at": "any",
         "include_closed": "true", **params}
    r = flask_app.test_client().get("/api/v1/nearest", query_string=q)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _api_sections(flask_app, page, *, open_only=False, worker=None, **params):
    """The two sections the list must show, asked of the API directly: the nearest places open at the page's
    minute that ``worker`` (else the least-privileged worker type) may enter, then the other places among the
    nearest (closed, restricted, hours unknown) — none when only open places are asked for."""
    at = page.evaluate("() => WM.worker.hours.at")
    now = _api_nearest(flask_app, open_at=at, include_closed="false", worker=worker or "outdoor_worker", **params)
    ids = [h["id"] for h in now["hits"]]
    if open_only:
        return now, ids, []
    every = _api_nearest(flask_app, **({"worker": worker} if worker else {}), **params)
    return now, ids, [h["id"] for h in every["hits"] if h["id"] not in ids]


def test_page_loads_every_facility_clustered_without_console_errors(open_worker, page, page_log, flask_app,
                                                                    screenshots):
    open_worker("/")
    live = {f.id for f in _state(flask_app).registry.facilities if f.status != "removed"}
    assert set(page.evaluate(VISIBLE_IDS)) == live
    assert page.evaluate("() => Object.values(WM.worker.groups).every(g => WM.worker.map.hasLayer(g))")
    assert page.evaluate("() => document.querySelectorAll('.wm-cluster').length") > 0
    assert page.locator("#sample-notice").is_visible()
    assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
    assert page.locator("#match-count").inner_text() == f"地图显示 {len(live)} / {len(live)} 处"
    page.screenshot(path=str(screenshots / "worker-start.png"))
    assert page_log.errors == []


def test_mocked_geolocation_gives_open_places_first_then_the_others(open_worker, page, page_log, flask_app,
                                                                    screenshots):
    open_worker("/", position=HOME)
    now, now_ids, later_ids = _api_sections(flask_app, page)
    assert now_ids, "nothing open near HOME"
    # open and enterable first, in the API's order; the others after, in their own section, never interleaved
    assert page.evaluate("() => Array.from(document.querySelectorAll('#list-now li.hit')).map(li => li.dataset.id)") \
        == now_ids
    assert page.evaluate("() => Array.from(document.querySelectorAll('#list-later li.hit')).map(li => li.dataset.id)") \
        == later_ids
    assert page.evaluate(LIST_IDS) == now_ids + later_ids
    assert page.locator("#now-title").inner_text() == "现在营业 · 户外劳动者可进入"
    assert page.locator("#later-title").is_visible() == bool(later_ids)
    first = now["hits"][0]
    item = page.locator("#list-now li.hit").first
    assert item.locator(".name").inner_text() == first["name"]
    sub = item.locator(".sub").inner_text()
    assert f"{round(first['distance_m'])} 米" in sub and "步行" in sub and "电动车" in sub
    for b in page.locator("#list-now .badges").all():  # open now, no restriction
        assert re.fullmatch(r"(营业至(明天 )?\d\d:\d\d|24小时营业)", b.inner_text())
    every = {h["id"]: h for h in _api_nearest(flask_app)["hits"] + now["hits"]}
    restricted = {"members": "仅限工会会员", "employees": "仅限本单位职工"}
    for li in page.locator("#list-later li.hit").all():  # each says why it is set apart
        hit, text = every[li.get_attribute("data-id")], li.locator(".badges").inner_text()
        assert hit["access"] in restricted or not hit["open_now"], hit
        if hit["access"] in restricted:
            assert restricted[hit["access"]] in text
        else:
            assert re.search(r"(明天 |周.\s)?\d\d:\d\d开门|已关门|暂停开放|维修中|营业时间未知", text), text
    # amenity icons
    for li in page.locator("#list li.hit").all():
        labels = li.locator(".amen [role=img]").evaluate_all("ns => ns.map(n => n.getAttribute('aria-label'))")
        assert len(labels) == len(every[li.get_attribute("data-id")]["amenities"])
    assert page.evaluate("() => document.body.dataset.position") == f"{HOME['lon']:.6f},{HOME['lat']:.6f}"
    page.screenshot(path=str(screenshots / "worker-nearest.png"))
    assert page_log.errors == []


def _expected_visible(flask_app, *, kinds=(), amenities=(), worker=None, open_at=None, h24=False):
    st = _state(flask_app)
    idx = st.index.eligible(kinds=kinds, amenities=amenities, worker=worker, open_at=open_at,
                            include_closed=open_at is None)
    fac = [st.index.facilities[i] for i in idx]
    return {f.id for f in fac if not h24 or f.opening_hours == "24/7"}


FILTERS = {  # selector, what the map keeps (_expected_visible), what the list asks the API
    "kind": ("input[name=kind][value=mother_room]", {"kinds": ("mother_room",)}, {"kind": "mother_room"}),
    "amenity": ("input[name=amenity][value=battery_swap]", {"amenities": ("battery_swap",)},
                {"amenity": "battery_swap"}),
    "24h": ("#f-24h", {"h24": True}, {"open_24h": "true"}),
    "worker": ("#f-worker", {"worker": "outdoor_worker"}, {"worker": "outdoor_worker"}),
}


@pytest.mark.parametrize("name", [*FILTERS, "open_now"])
def test_each_filter_narrows_list_and_map_alike(open_worker, page, page_log, flask_app, name):
    open_worker("/", position=HOME)
    total = len(page.evaluate(VISIBLE_IDS))
    seq = list_seq(page)
    if name == "open_now":  # the switch at the top of the page, not in the filter sheet
        page.get_by_role("switch", name="现在营业").click()
        assert page.locator("#filters").is_hidden()
        expect_kw, api_kw = {"open_at": datetime.fromisoformat(page.evaluate("() => WM.worker.hours.at"))}, {}
    else:
        page.click("#filters-toggle")
        selector, expect_kw, api_kw = FILTERS[name]
        if name == "worker":
            page.select_option(selector, "outdoor_worker")
        else:
            page.check(selector)
    wait_list(page, seq)
    expected = _expected_visible(flask_app, **expect_kw)
    visible = set(page.evaluate(VISIBLE_IDS))
    assert visible == expected and 0 < len(visible) < total
    now, now_ids, later_ids = _api_sections(flask_app, page, open_only=name == "open_now", **api_kw)
    listed = page.evaluate(LIST_IDS)
    assert listed == now_ids + later_ids and set(listed) <= visible
    assert page.evaluate("() => WM.worker.eligible") == now["eligible"]
    if name == "open_now":
        assert page.locator("#later-title").is_hidden()
        assert page.locator("#filter-count").is_hidden()  # the sheet's count is the sheet's filters
    # clearing the filters brings every facility back
    seq = list_seq(page)
    if name == "open_now":
        page.get_by_role("switch", name="现在营业").click()
    else:
        page.click("#filters-reset")
    wait_list(page, seq)
    assert len(page.evaluate(VISIBLE_IDS)) == total
    assert page_log.errors == []


def test_language_toggle_is_remembered(open_worker, page, page_log, screenshots):
    open_worker("/", position=HOME)
    assert page.locator("#list-title").inner_text() == "离我最近"
    page.click("#lang")
    assert page.evaluate("() => document.documentElement.lang") == "en"
    assert page.locator("#list-title").inner_text() == "Nearest to me"
    assert " m · " in page.locator("#list li.hit .sub").first.inner_text()
    assert page.locator("#q").get_attribute("placeholder") == "Search a place, township or facility"
    assert page.locator("#now-title").inner_text() == "Open now · Outdoor worker may enter"
    page.reload()
    page.wait_for_selector("body[data-state=ready]", state="attached")
    wait_list(page)
    assert page.evaluate("() => document.documentElement.lang") == "en"
    assert page.locator("#list-title").inner_text() == "Nearest to me"
    assert page.locator("label.chip", has_text="Worker station").count() == 1
    assert page.locator("#lang").inner_text() == "中文"
    page.screenshot(path=str(screenshots / "worker-english.png"))
    page.click("#lang")
    assert page.locator("#list-title").inner_text() == "离我最近"
    assert page.evaluate("() => localStorage.getItem('workermap.lang')") == "zh"
    assert page_log.errors == []


def _close(a: float, b: float, tol: float = 2e-6) -> bool:
    return abs(a - b) <= tol


def test_navigation_links_carry_each_apps_datum(open_worker, page, page_log):
    open_worker("/", position=HOME)
    hits = page.evaluate("() => WM.worker.hits")
    links = page.locator("#list li.hit").first.locator(".nav a")
    hrefs = {next(c for c in a.get_attribute("class").split() if c.startswith("nav-") and c != "nav-btn"):
             a.get_attribute("href") for a in links.all()}
    lon, lat = hits[0]["lon"], hits[0]["lat"]
    glon, glat = wgs84_to_gcj02(lon, lat)
    blon, blat = wgs84_to_bd09(lon, lat)
    to = parse_qs(urlsplit(hrefs["nav-amap"]).query)["to"][0].split(",")
    assert _close(float(to[0]), glon) and _close(float(to[1]), glat) and to[2] == hits[0]["name"]
    dest = parse_qs(urlsplit(hrefs["nav-baidu"]).query)["destination"][0]
    m = re.match(r"latlng:([\d.]+),([\d.]+)\|name:", dest)
    assert _close(float(m[1]), blat) and _close(float(m[2]), blon)
    assert "coord_type=bd09ll" in hrefs["nav-baidu"] and "coordinate=gaode" in hrefs["nav-amap"]
    daddr = parse_qs(urlsplit(hrefs["nav-apple"]).query)["daddr"][0].split(",")
    assert _close(float(daddr[0]), glat) and _close(float(daddr[1]), glon)
    assert hrefs["nav-geo"].startswith(f"geo:{lat:.7f},{lon:.7f}")
    # A facility opened from the map (not from the API) gets the same links, built in the page.
    for h in hits[:4]:
        js = page.evaluate("([lon, lat, name]) => WM.worker.buildLinks(lon, lat, name)",
                           [h["lon"], h["lat"], h["name"]])
        assert js == navigation_links(h["lon"], h["lat"], h["name"], origin=(HOME["lon"], HOME["lat"]))
    assert page_log.errors == []


def test_xss_name_is_shown_as_text_and_runs_nothing(open_worker, page, page_log, screenshots):
    open_worker("/", position=HOME)
    assert XSS_ID in page.evaluate(LIST_IDS)
    assert page.locator("#list li.hit", has_text=XSS_NAME).locator(".name").inner_text() == XSS_NAME
    page.fill("#q", "<img")
    page.wait_for_selector("#search-results .result")
    page.locator("#search-results .result", has_text=XSS_NAME).first.click()
    page.wait_for_selector("#card:not([hidden])")
    assert page.locator("#card-title").inner_text() == XSS_NAME
    assert "<script>alert(2)</script>路1号" in page.locator("#card").inner_text()
    # the marker's title attribute is the raw name; nothing was parsed as HTML
    assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"], #card script, #list script, b').length") == 0
    page.screenshot(path=str(screenshots / "worker-xss-card.png"))
    page.wait_for_timeout(200)
    assert page_log.dialogs == []
    assert page_log.errors == []


def test_works_when_tiles_fail_and_nothing_else_leaves_localhost(open_worker, page, page_log, traffic):
    traffic.abort_tiles = True
    open_worker("/", position=HOME)
    assert traffic.tiles, "the basemap asked for no tiles"
    assert page.locator("#tiles-notice").is_visible()
    assert len(page.evaluate(VISIBLE_IDS)) > 1000 and len(page.evaluate("() => WM.worker.sections.now")) == LIST_K
    seq = list_seq(page)
    page.click("#filters-toggle")
    page.check("#f-24h")
    wait_list(page, seq)
    assert 0 < len(page.evaluate(VISIBLE_IDS)) < 200
    non_tile = [e for e in page_log.errors if "ERR_FAILED" not in e]
    assert non_tile == []
    # traffic fixture asserts at teardown that only tile hosts were asked for outside 127.0.0.1


def _marker_screen_xy(page, facility_id):
    """(screen centre of the facility's marker icon, map container origin) after zooming onto it."""
    return page.evaluate("""id => {
        const w = WM.worker, m = w.markers.find(m => m.feature.id === id);
        w.map.setView(m.getLatLng(), 18, {animate: false});
        for (const g of Object.values(w.groups)) { if (g.hasLayer(m)) { g.zoomToShowLayer && g.refreshClusters(); } }
        const icon = m.getElement();
        const r = icon.getBoundingClientRect(), c = w.map.getContainer().getBoundingClientRect();
        return {x: r.left + r.width / 2 - c.left, y: r.top + r.height / 2 - c.top};
    }""", facility_id)


def _point_of(page, lon, lat):
    return page.evaluate("([lat, lon]) => { const p = WM.worker.map.latLngToContainerPoint([lat, lon]); "
                         "return {x: p.x, y: p.y}; }", [lat, lon])


def test_amap_basemap_draws_markers_and_me_at_gcj02(open_worker, page, page_log, flask_app, screenshots):
    open_worker("/", position=HOME)
    fac = _state(flask_app).registry.get("st-370202-0001")
    # choose AMap in Leaflet's layer switcher, as a person would
    page.locator(".leaflet-control-layers").hover()
    page.locator(".leaflet-control-layers-base label", has_text="AMap").click()
    assert page.evaluate("() => document.body.dataset.datum") == "gcj02"
    glon, glat = wgs84_to_gcj02(fac.lon, fac.lat)
    on_screen = _marker_screen_xy(page, fac.id)
    want = _point_of(page, glon, glat)
    assert abs(on_screen["x"] - want["x"]) < 1.0 and abs(on_screen["y"] - want["y"]) < 1.0
    wgs = _point_of(page, fac.lon, fac.lat)
    assert abs(on_screen["x"] - wgs["x"]) > 50  # ~500 m at zoom 18: clearly not the WGS84 spot
    # my position and the district outlines are shifted too
    you = page.evaluate("() => { const ll = WM.worker.youLatLng; return [ll.lng, ll.lat]; }")
    hlon, hlat = wgs84_to_gcj02(HOME["lon"], HOME["lat"])
    assert _close(you[0], hlon, 1e-9) and _close(you[1], hlat, 1e-9)
    page.screenshot(path=str(screenshots / "worker-amap.png"))
    # back to OpenStreetMap: WGS84 again
    page.locator(".leaflet-control-layers").hover()
    page.locator(".leaflet-control-layers-base label", has_text="OpenStreetMap").click()
    assert page.evaluate("() => document.body.dataset.datum") == "wgs84"
    on_screen = _marker_screen_xy(page, fac.id)
    wgs = _point_of(page, fac.lon, fac.lat)
    assert abs(on_screen["x"] - wgs["x"]) < 1.0 and abs(on_screen["y"] - wgs["y"]) < 1.0
    # the choice of basemap is remembered
    page.locator(".leaflet-control-layers").hover()
    page.locator(".leaflet-control-layers-base label", has_text="AMap").click()
    page.reload()
    page.wait_for_selector("body[data-state=ready]", state="attached")
    assert page.evaluate("() => document.body.dataset.datum") == "gcj02"
    assert page.evaluate("() => WM.worker.basemaps.id") == "amap"
    assert page_log.errors == []


def test_javascript_datum_port_matches_geo_datum(open_worker, page):
    open_worker("/")
    rng = random.Random(5)
    pts = [(rng.uniform(119.3, 121.3), rng.uniform(35.4, 37.3)) for _ in range(300)] + [(120.3843, 36.0620)]
    got = page.evaluate("""pts => pts.map(([lon, lat]) => {
        const g = WMDatum.wgs84ToGcj02(lon, lat), b = WMDatum.wgs84ToBd09(lon, lat);
        const w = WMDatum.gcj02ToWgs84(g[0], g[1]);
        return [g, b, w];
    })""", pts)
    for (lon, lat), (g, b, w) in zip(pts, got, strict=True):
        pg, pb = wgs84_to_gcj02(lon, lat), wgs84_to_bd09(lon, lat)
        assert abs(g[0] - pg[0]) < 1e-12 and abs(g[1] - pg[1]) < 1e-12
        assert abs(b[0] - pb[0]) < 1e-12 and abs(b[1] - pb[1]) < 1e-12
        assert abs(w[0] - lon) < 1e-9 and abs(w[1] - lat) < 1e-9


def test_without_location_search_or_set_here_gives_a_list(open_worker, page, page_log, flask_app):
    page.context.clear_permissions()
    open_worker("/")
    assert page.locator("#list li.hit").count() == 0
    page.click("#locate")
    page.wait_for_function("() => document.body.dataset.geo === 'denied'")
    assert "无法定位" in page.locator("#list-status").inner_text()
    # search a township (街道) and pick it
    seq = list_seq(page)
    page.fill("#q", "湛山街道")
    page.wait_for_selector("#search-results .result")
    assert page.locator("#search-results .result .rtype").first.inner_text() == "街道/镇"
    page.keyboard.press("Enter")
    wait_list(page, seq)
    assert page.locator("#list li.hit").count() >= LIST_K
    assert "按搜索的位置" in page.locator("#list-status").inner_text()
    # search a district
    seq = list_seq(page)
    page.fill("#q", "黄岛")
    page.wait_for_selector("#search-results .result")
    page.locator("#search-results .result[data-type=district]", has_text="黄岛区").first.click()
    wait_list(page, seq)
    districts = page.evaluate("() => WM.worker.sections.now.map(h => h.district)")
    assert districts.count("黄岛区") >= LIST_K // 2
    # tap the map, then "set my position here"
    page.wait_for_timeout(500)  # markercluster animates its clusters after a zoom
    spot = page.evaluate("""() => {  // bare map between the notices and the list: nothing but map within 20 px
        const top = document.querySelector('.notices').getBoundingClientRect().bottom + 120;
        const bottom = document.getElementById('panel').getBoundingClientRect().top - 40;
        const bare = (x, y) => { const c = (document.elementFromPoint(x, y) || {}).classList;
            return c && (c.contains('leaflet-tile') || c.contains('leaflet-container')); };
        for (let y = top; y < bottom; y += 23) for (let x = 70; x < innerWidth - 70; x += 29) {
            if ([-20, 0, 20].every(dx => [-20, 0, 20].every(dy => bare(x + dx, y + dy)))) return {x, y};
        }
        return null; }""")
    assert spot, "no bare map to tap"
    before = page.evaluate("() => document.body.dataset.position")
    page.touchscreen.tap(spot["x"], spot["y"])
    page.locator(".point-menu .set-here").wait_for()
    assert page.evaluate("() => document.body.dataset.position") == before  # a tap alone moves nothing
    seq = list_seq(page)
    page.locator(".point-menu .set-here").click()
    wait_list(page, seq)
    assert "按地图上选的位置" in page.locator("#list-status").inner_text()
    assert page.locator("#toast").is_visible() and "位置已更改" in page.locator("#toast").inner_text()
    pos = page.evaluate("() => WM.worker.position")
    _, now_ids, later_ids = _api_sections(flask_app, page, lon=f"{pos['lon']:.7f}", lat=f"{pos['lat']:.7f}")
    assert page.evaluate(LIST_IDS) == now_ids + later_ids
    assert page_log.errors == []


def test_detail_card_has_every_field(open_worker, page, page_log, flask_app, screenshots):
    open_worker("/", position=HOME)
    hit = page.evaluate("() => WM.worker.hits[1]")
    page.locator("#list li.hit").nth(1).locator(".hit-main").click()
    card = page.locator("#card")
    card.wait_for(state="visible")
    text = card.inner_text()
    for label in ("地址", "开放时间", "设施", "容量", "进入方式", "电话", "最近核实", "开放对象"):
        assert label in text, label
    assert hit["address"] in text and hit["phone"] in text and hit["verified_at"] in text
    assert card.locator(".amen-item").count() == len(hit["amenities"])
    assert card.locator("a.nav-amap").get_attribute("href") == hit["navigation"]["amap"]
    page.screenshot(path=str(screenshots / "worker-card.png"))
    # a marker opens the same card
    page.keyboard.press("Escape")
    assert card.is_hidden()
    page.evaluate("id => { const m = WM.worker.markers.find(m => m.feature.id === id); m.fire('click'); }", hit["id"])
    assert page.locator("#card-title").inner_text() == hit["name"]
    assert page_log.errors == []


def test_keyboard_reaches_controls_and_list_and_everything_is_labelled(open_worker, page, page_log):
    open_worker("/", position=HOME)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip"
    order = []
    for _ in range(5):
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => document.activeElement.id"))
    assert order == ["q", "locate", "filters-toggle", "lang", "f-open"]
    # open the filters with the keyboard; focus moves into them; Space ticks a kind; Escape closes
    page.focus("#filters-toggle")
    seq = list_seq(page)
    page.keyboard.press("Enter")
    assert page.locator("#filters").is_visible()
    assert page.evaluate("() => document.activeElement.name") == "kind"
    page.keyboard.press("Space")
    wait_list(page, seq)
    assert page.evaluate("() => WM.worker.filters().kinds") == ["station"]
    page.keyboard.press("Escape")
    assert page.locator("#filters").is_hidden()
    assert page.evaluate("() => document.activeElement.id") == "filters-toggle"
    # the list buttons are reachable; Enter opens the card, Escape returns focus to the button
    first = page.locator("#list li.hit .hit-main").first
    first.focus()
    page.keyboard.press("Enter")
    assert page.locator("#card").is_visible()
    assert page.evaluate("() => document.activeElement.id") == "card-title"
    page.keyboard.press("Escape")
    assert page.evaluate("() => document.activeElement.classList.contains('hit-main')")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.classList.contains('nav-amap')")
    # every control has an accessible name
    unnamed = page.evaluate("""() => Array.from(document.querySelectorAll(
            'header button, header input, #filters input, #filters select, #filters button, #list button, #list a'))
        .filter(n => { const id = n.id && document.querySelector('label[for="' + n.id + '"]');
                       const wrap = n.closest('label');
                       return !(n.getAttribute('aria-label') || (wrap && wrap.textContent.trim())
                                || (id && id.textContent.trim()) || n.textContent.trim()); })
        .map(n => n.outerHTML.slice(0, 80))""")
    assert unnamed == []
    page.click("#filters-toggle")
    assert page.get_by_role("button", name="定位我").count() == 1
    assert page.get_by_role("searchbox", name="搜索").count() == 1
    assert page.get_by_role("switch", name="现在营业").count() == 1
    assert page.get_by_role("combobox", name="我能进入").count() == 1
    assert page_log.errors == []


def test_interactive_mark_is_set_once_every_facility_is_on_the_map(open_worker, page, page_log, flask_app):
    """The ``workermap-interactive`` mark bench/bench_pages.py times (target ≤ 1.5 s, measured there against
    folium's inline markers): set once, after the data arrived, with every live facility clustered."""
    open_worker("/")
    marks = page.evaluate("""() => ({
        interactive: performance.getEntriesByName('workermap-interactive').map(m => m.startTime),
        data: performance.getEntriesByName('workermap-data').map(m => m.startTime),
        visible: Object.values(WM.worker.groups).reduce((n, g) => n + g.getLayers().length, 0),
        facilities: Number(document.body.dataset.facilities)})""")
    live = sum(1 for f in _state(flask_app).registry.facilities if f.status != "removed")
    assert len(marks["interactive"]) == 1 and len(marks["data"]) == 1, marks
    assert 0 < marks["data"][0] <= marks["interactive"][0]
    assert marks["visible"] == marks["facilities"] == live
    assert page_log.errors == []
