"""The worker finder as a worker uses it, at a phone viewport (390×844) in Chinese and English, on a registry
built for it: the shipped sample plus six stations around one street corner whose state does not depend on
the hour (open round the clock, union members only, employees only, temporarily closed, hours unknown, open
one minute a day). Its own server, so its reports (rate-limited per client) touch no other test: each test
is a different client (``X-Forwarded-For`` from a trusted proxy).

What is checked: open-and-enterable places first and the others set apart; unknown hours never shown as open;
a plain tap never moves "my position" (a long-press or "set my position here" does, with undo); a card opened
from a marker has the distance (checked against pyproj's geodesic), minutes, the sample badge, is centred and
takes at most half the screen; dismissable banners that never cover the list; typed search results; reports
and suggested sites posted, rate-limited and refused in the one error shape.
"""

from __future__ import annotations

import itertools
import json
import math
import re

import pytest
from pyproj import Geod

from geo.settings import SHIPPED_DATA
from tests.browser.conftest import HOME, list_seq, threaded_app, wait_list

#: The street corner of the six stations (inland of 五四广场, 市南区).
CORNER = {"lon": HOME["lon"] - 0.0030, "lat": HOME["lat"] + 0.0040}
#: id -> (north, east offset in metres, what differs from an open 24/7 station for all outdoor workers).
STATIONS = {
    "t-open": (30, 0, {}),
    "t-members": (10, 10, {"access": "members"}),
    "t-employees": (-10, 10, {"access": "employees"}),
    "t-paused": (0, -15, {"status": "temporarily_closed"}),
    "t-unknown": (15, -5, {"opening_hours": None}),
    "t-minute": (-20, -10, {"opening_hours": "Mo-Su 08:00-08:01"}),
}
#: A facility far from the corner (never among its nearest): the card opened from its marker.
FAR_ID = "st-370212-0001"
LIST_NOW = "() => Array.from(document.querySelectorAll('#list-now li.hit')).map(li => li.dataset.id)"
LIST_LATER = "() => Array.from(document.querySelectorAll('#list-later li.hit')).map(li => li.dataset.id)"
GEOD = Geod(ellps="WGS84")
_clients = itertools.count(1)


def _station(fid: str, north_m: float, east_m: float, changes: dict) -> dict:
    lat = CORNER["lat"] + north_m / 111_000
    lon = CORNER["lon"] + east_m / (111_000 * math.cos(math.radians(CORNER["lat"])))
    props = {
        "id": fid, "kind": "station", "name": f"测试驿站{fid[2:]}", "district_adcode": "370202", "district": "市南区",
        "name_en": f"Test station {fid[2:]}", "township": "八大关街道", "address": "测试路1号",
        "amenities": ["rest", "drinking_water"], "opening_hours": "24/7", "access": "outdoor_workers",
        "entry": ["staffed"], "capacity": 6, "status": "open", "verified_at": "2025-10-01", "phone": "",
        "host": "", "sample": True, "source_crs": "wgs84", "source_lon": None, "source_lat": None, **changes,
    }
    return {"type": "Feature", "id": fid, "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
            "properties": props}


@pytest.fixture(scope="module")
def flows_server(tmp_path_factory):
    """(base_url, app): the sample registry plus STATIONS, served from a thread; 127.0.0.1 is a trusted proxy."""
    data_dir = tmp_path_factory.mktemp("worker-flows")
    doc = json.loads((SHIPPED_DATA / "sample_facilities.geojson").read_text(encoding="utf-8"))
    doc["features"] += [_station(fid, *spec) for fid, spec in STATIONS.items()]
    (data_dir / "facilities.geojson").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with threaded_app({"WORKERMAP_DATA_DIR": data_dir, "WORKERMAP_TRUSTED_PROXIES": "127.0.0.1"}) as served:
        yield served


@pytest.fixture(scope="module")
def browser_context_args(browser_context_args, flows_server):
    return {**browser_context_args, "base_url": flows_server[0]}


@pytest.fixture
def app(flows_server):
    return flows_server[1]


@pytest.fixture
def worker(open_worker, page):
    """Open the page in ``lang`` as a new client, optionally at a position (mocked geolocation)."""

    def go(lang: str = "zh", *, position: dict | None = None, path: str = "/"):
        page.context.set_extra_http_headers({"X-Forwarded-For": f"203.0.113.{next(_clients)}"})
        page.context.add_init_script(f"localStorage.setItem('workermap.lang', '{lang}')")
        return open_worker(path, position=position)

    return go


S = {  # the page's words in each language, as a worker reads them
    "zh": {"unknown": "营业时间未知", "h24": "24小时营业", "members": "仅限工会会员", "employees": "仅限本单位职工",
           "paused": "暂停开放", "opens": r"(明天 )?08:00开门", "set_here": "设为我的位置",
           "suggest": "在这里建议新站点", "moved": "位置已更改", "undo": "撤销", "sample": "示例数据",
           "walk": "步行 {n} 分钟", "ebike": "电动车 {n} 分钟", "est": "直线距离估算", "m": "{n} 米", "km": "{n} 公里",
           "report": "报告问题",
           "full": "满了", "send": "提交", "thanks": "已收到", "rate": r"太频繁，请稍后再试（\d+ (秒|分钟)后）。",
           "error": "提交失败：", "reports": "{n} 条待处理", "verified": "最近核实", "sec_now": "现在营业",
           "sec_later": "已关门或限制进入", "pick": "请选择问题类型。", "switch": "现在营业", "dismiss": "关闭提示"},
    "en": {"unknown": "Hours unknown", "h24": "Open 24 hours", "members": "Union members only",
           "employees": "Employees of the host only", "paused": "Temporarily closed",
           "opens": r"Opens at (tomorrow )?08:00", "set_here": "Set my position here",
           "suggest": "Suggest a site here", "moved": "Position changed", "undo": "Undo", "sample": "Sample record",
           "walk": "{n} min walk", "ebike": "{n} min by e-bike", "est": "straight-line estimate", "m": "{n} m",
           "km": "{n} km",
           "report": "Report a problem", "full": "Full", "send": "Send", "thanks": "Received",
           "rate": r"Too many reports; please try again in \d+ (s|min)\.", "error": "Could not send: ",
           "reports": "{n} open", "verified": "Last verified", "sec_now": "Open now",
           "sec_later": "Closed or restricted", "pick": "Choose what is wrong.", "switch": "Open now",
           "dismiss": "Dismiss"},
}


def _distance_text(lang: str, m: float) -> str:
    if m < 1000:
        return S[lang]["m"].format(n=round(m))
    return S[lang]["km"].format(n=f"{m / 1000:.{1 if m < 10000 else 0}f}")


def _box(page, selector):
    return page.evaluate("s => { const r = document.querySelector(s).getBoundingClientRect(); "
                         "return {l: r.left, t: r.top, r: r.right, b: r.bottom, w: r.width, h: r.height}; }", selector)


def _overlap(a, b) -> bool:
    return a["l"] < b["r"] and b["l"] < a["r"] and a["t"] < b["b"] and b["t"] < a["b"]


def _bare_map_spot(page):
    """A point of bare map between the notices and the list: nothing within 20 px of it but map (no marker, control
    or sheet), once marker clusters have settled after the last move."""
    page.wait_for_timeout(500)  # markercluster animates its clusters after a zoom
    return page.evaluate("""() => {
        const top = Math.round(document.getElementById('notices').getBoundingClientRect().bottom) + 140;
        const bottom = document.getElementById('panel').getBoundingClientRect().top - 40;
        const bare = (x, y) => { const c = (document.elementFromPoint(x, y) || {}).classList;
            return c && (c.contains('leaflet-tile') || c.contains('leaflet-container')); };
        for (let y = top; y < bottom; y += 17) for (let x = 60; x < innerWidth - 60; x += 23) {
            if ([-20, 0, 20].every(dx => [-20, 0, 20].every(dy => bare(x + dx, y + dy)))) return {x, y};
        }
        return null; }""")


def _wgs84_at(page, spot):
    """WGS84 [lon, lat] of a point of the map, and how many degrees of latitude one pixel is there."""
    return page.evaluate("""s => { const m = WM.worker.map, ll = m.containerPointToLatLng([s.x, s.y]);
        const w = WM.worker.basemaps.fromMap(ll);
        return [w[0], w[1], Math.abs(m.containerPointToLatLng([s.x, s.y + 1]).lat - ll.lat)]; }""", spot)


def _moved_to(page, want) -> bool:
    """Whether "my position" is ``want`` (within 1.5 pixels: a touch lands on whole pixels)."""
    pos = page.evaluate("() => WM.worker.position")
    tol = 1.5 * want[2]
    return abs(pos["lon"] - want[0]) <= tol * 1.3 and abs(pos["lat"] - want[1]) <= tol


# -- item 3 and item 1: open now first; unknown hours are unknown -----------------------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_open_enterable_places_come_first_and_the_others_are_set_apart(worker, page, page_log, app, lang,
                                                                       screenshots):
    worker(lang, position=CORNER)
    now, later = page.evaluate(LIST_NOW), page.evaluate(LIST_LATER)
    assert "t-open" in now
    assert {"t-members", "t-employees", "t-paused", "t-unknown", "t-minute"} <= set(later)
    # never interleaved: every open one is above every other one in the list, under its own heading
    tops = page.evaluate("() => Array.from(document.querySelectorAll('#list li.hit')).map(li => "
                         "[li.closest('ol').id, li.getBoundingClientRect().top])")
    assert [ol for ol, _ in tops] == ["list-now"] * len(now) + ["list-later"] * len(later)
    assert [y for _, y in tops] == sorted(y for _, y in tops)
    assert page.locator("#now-title").inner_text().startswith(S[lang]["sec_now"])
    assert page.locator("#later-title").inner_text() == S[lang]["sec_later"]
    head = _box(page, "#later-title")
    assert all(y > head["t"] for ol, y in tops if ol == "list-later")

    def badges(fid):
        return page.locator(f"#list li.hit[data-id='{fid}'] .badges").inner_text()

    assert S[lang]["h24"] in badges("t-open")
    assert S[lang]["members"] in badges("t-members") and S[lang]["employees"] in badges("t-employees")
    assert S[lang]["paused"] in badges("t-paused")
    assert re.search(S[lang]["opens"], badges("t-minute"))
    # unknown hours: said so, never "open 24 hours", not counted open by the API either
    assert S[lang]["unknown"] in badges("t-unknown") and S[lang]["h24"] not in badges("t-unknown")
    hit = next(h for h in page.evaluate("() => WM.worker.hits") if h["id"] == "t-unknown")
    assert hit["open_now"] is None and hit["hours_known"] is False
    page.locator("#list li.hit[data-id='t-unknown'] .hit-main").click()
    card = page.locator("#card")
    card.wait_for(state="visible")
    assert S[lang]["unknown"] in card.inner_text() and S[lang]["h24"] not in card.inner_text()
    page.screenshot(path=str(screenshots / f"worker-sections-{lang}.png"))
    assert page_log.errors == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_open_now_switch_sits_on_the_page_and_keeps_only_open_enterable_places(worker, page, page_log, lang):
    worker(lang, position=CORNER)
    switch = page.get_by_role("switch", name=S[lang]["switch"])
    assert switch.is_visible() and page.locator("#filters").is_hidden()
    assert _box(page, "#f-open")["b"] <= _box(page, "#bar")["b"]  # in the top bar
    seq = list_seq(page)
    switch.click()
    wait_list(page, seq)
    assert page.locator("#later-title").is_hidden() and page.evaluate(LIST_LATER) == []
    assert "t-open" in page.evaluate(LIST_NOW)
    visible = set(page.evaluate("() => Object.values(WM.worker.groups).flatMap(g => g.getLayers()"
                                ".map(m => m.feature.id))"))
    assert "t-open" in visible and not visible & {"t-paused", "t-unknown", "t-minute"}
    page.reload()  # remembered
    page.wait_for_selector("body[data-state=ready]", state="attached")
    assert page.get_by_role("switch", name=S[lang]["switch"]).is_checked()
    assert page_log.errors == []


# -- item 5: position and cards ------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_tap_never_moves_my_position_set_here_and_long_press_do_with_undo(worker, page, page_log, lang):
    worker(lang, position=CORNER)
    home = page.evaluate("() => document.body.dataset.position")
    spot = _bare_map_spot(page)
    assert spot, "no bare map to tap"
    want = _wgs84_at(page, spot)
    page.touchscreen.tap(spot["x"], spot["y"])
    menu = page.locator(".point-menu")
    menu.wait_for()
    assert page.evaluate("() => document.body.dataset.position") == home
    assert page.evaluate("() => WM.worker.position.source") == "gps"
    # "set my position here"
    seq = list_seq(page)
    menu.get_by_role("button", name=S[lang]["set_here"]).click()
    wait_list(page, seq)
    assert _moved_to(page, want)
    toast = page.locator("#toast")
    assert toast.is_visible() and S[lang]["moved"] in toast.inner_text()
    seq = list_seq(page)
    toast.get_by_role("button", name=S[lang]["undo"]).click()
    wait_list(page, seq)
    assert page.evaluate("() => document.body.dataset.position") == home and toast.is_hidden()
    # a long-press (touch held ~0.8 s) moves it at once
    spot = _bare_map_spot(page)
    want = _wgs84_at(page, spot)
    seq = list_seq(page)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": spot["x"], "y": spot["y"]}]})
    page.wait_for_timeout(800)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    wait_list(page, seq)
    assert _moved_to(page, want)
    assert page.locator(".point-menu").count() == 0  # the hold opened no menu
    assert toast.is_visible()
    seq = list_seq(page)
    toast.get_by_role("button", name=S[lang]["undo"]).click()
    wait_list(page, seq)
    assert page.evaluate("() => document.body.dataset.position") == home
    # a right-click (a desktop's long-press) too
    spot = _bare_map_spot(page)
    want = _wgs84_at(page, spot)
    seq = list_seq(page)
    page.mouse.click(spot["x"], spot["y"], button="right")
    wait_list(page, seq)
    assert _moved_to(page, want)
    assert page_log.errors == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_card_from_a_marker_has_distance_minutes_sample_badge_is_centred_and_half_the_screen(
        worker, page, page_log, app, lang, screenshots):
    worker(lang, position=CORNER)
    assert FAR_ID not in page.evaluate("() => WM.worker.hits.map(h => h.id)")
    fac = app.extensions["workermap"].registry.get(FAR_ID)
    # pan to it, then zoom in until markers stop clustering, as a worker would; then tap its marker
    page.evaluate("id => { const w = WM.worker, m = w.markers.find(m => m.feature.id === id); "
                  "w.map.setView(m.getLatLng(), w.map.getZoom(), {animate: false}); }", FAR_ID)
    page.wait_for_timeout(300)
    page.evaluate("() => WM.worker.map.setZoom(17, {animate: false})")
    page.wait_for_timeout(500)  # markercluster draws the markers of the new view
    pin = page.evaluate("""id => { const m = WM.worker.markers.find(m => m.feature.id === id), e = m.getElement();
        const r = e && e.getBoundingClientRect(); return r && [r.left + r.width / 2, r.top + r.height / 2]; }""",
                        FAR_ID)
    assert pin, "its marker is not drawn"
    page.touchscreen.tap(*pin)
    card = page.locator("#card")
    card.wait_for(state="visible")
    page.wait_for_selector("#card[data-enriched=true]", state="attached")
    _, _, dist = GEOD.inv(CORNER["lon"], CORNER["lat"], fac.lon, fac.lat)  # the independent reference
    assert abs(page.evaluate("([a, b, c, d]) => WM.worker.geodesicM(a, b, c, d)",
                             [CORNER["lon"], CORNER["lat"], fac.lon, fac.lat]) - dist) < 0.01
    walk = math.ceil(dist * 1.3 / (4.8 * 1000 / 60))
    ebike = math.ceil(dist * 1.3 / (15 * 1000 / 60))
    assert card.locator(".card-distance").inner_text() == " · ".join(
        [_distance_text(lang, dist), S[lang]["walk"].format(n=walk), S[lang]["ebike"].format(n=ebike), S[lang]["est"]])
    assert card.locator(".badge.sample").inner_text() == S[lang]["sample"]
    # centred in the map the card leaves visible, and at most half the phone's screen
    box, notices = _box(page, "#card"), _box(page, "#notices")
    assert box["h"] <= 0.5 * 844
    at = page.evaluate("([lon, lat]) => { const w = WM.worker, p = w.map.latLngToContainerPoint("
                       "w.basemaps.toMap(lon, lat)); return [p.x, p.y]; }", [fac.lon, fac.lat])
    assert abs(at[0] - 390 / 2) < 2 and abs(at[1] - (notices["b"] + box["t"]) / 2) < 2
    page.wait_for_timeout(300)  # markercluster draws the markers of the new view
    pin = page.evaluate("""id => { const w = WM.worker, m = w.markers.find(m => m.feature.id === id);
        if (w.groups[m.feature.properties.kind].getVisibleParent(m) !== m) return null;
        const r = m.getElement().getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }""",
                        FAR_ID)
    assert pin and abs(pin[0] - at[0]) < 2 and abs(pin[1] - at[1]) < 2  # its own marker is drawn there
    page.screenshot(path=str(screenshots / f"worker-card-far-{lang}.png"))
    # a card from the list fits in half the screen too
    page.keyboard.press("Escape")
    page.locator("#list-now li.hit .hit-main").first.click()
    card.wait_for(state="visible")
    assert _box(page, "#card")["h"] <= 0.5 * 844
    assert page_log.errors == []


# -- item 4: banners ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("viewport", "lang"), [({"width": 390, "height": 844}, "zh"),
                                                ({"width": 390, "height": 844}, "en"),
                                                ({"width": 1280, "height": 800}, "zh")],
                         ids=["phone-zh", "phone-en", "desktop-zh"])
def test_banners_never_cover_the_list_and_stay_dismissed(worker, page, page_log, traffic, viewport, lang,
                                                         screenshots):
    traffic.abort_tiles = True
    page.set_viewport_size(viewport)
    worker(lang, position=CORNER)
    page.wait_for_selector("#tiles-notice:not([hidden])", state="visible")
    page.wait_for_selector("#sample-notice:not([hidden])", state="visible")
    for notice in ("#sample-notice", "#tiles-notice"):
        for target in ("#panel", "#list-title", "#list"):
            assert not _overlap(_box(page, notice), _box(page, target)), (notice, target)
    page.screenshot(path=str(screenshots / f"worker-banners-{viewport['width']}-{lang}.png"))
    page.locator("#tiles-notice").get_by_role("button", name=S[lang]["dismiss"]).click()
    page.locator("#sample-notice").get_by_role("button", name=S[lang]["dismiss"]).click()
    assert page.locator("#tiles-notice").is_hidden() and page.locator("#sample-notice").is_hidden()
    page.reload()
    page.wait_for_selector("body[data-state=ready]", state="attached")
    wait_list(page)
    assert page.locator("#tiles-notice").is_hidden() and page.locator("#sample-notice").is_hidden()
    assert [e for e in page_log.errors if "ERR_FAILED" not in e] == []


# -- item 6: search -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("lang", "query", "rtype", "label"), [
    ("en", "Shinan", "District", "Shinan"),
    ("zh", "shinan", "区市", "市南"),
    ("zh", "测试驿站open", "设施", "测试驿站open"),
])
def test_search_shows_typed_places_and_sets_the_list_position(worker, page, page_log, app, lang, query, rtype,
                                                              label):
    worker(lang)
    page.fill("#q", query)
    page.wait_for_selector("#search-results .result")
    api = app.test_client().get("/api/v1/search", query_string={"q": query}).get_json()
    shown = page.locator("#search-results .result")
    assert shown.count() == len(api["results"]) > 0
    first = shown.first
    assert first.locator(".rtype").inner_text() == rtype and label in first.locator(".rlabel").inner_text()
    seq = list_seq(page)
    first.click()
    wait_list(page, seq)
    want = api["results"][0]
    assert page.evaluate("() => document.body.dataset.position") == f"{want['lon']:.6f},{want['lat']:.6f}"
    assert page.evaluate("() => WM.worker.position.source") == "search"
    if want["type"] == "facility":
        assert page.locator("#card").is_visible() and page.locator("#card").get_attribute("data-id") == want["id"]
    assert page_log.errors == []


# -- item 7: reports ------------------------------------------------------------------------------------------------

def _summary(app, fid):
    return app.test_client().get("/api/v1/reports/summary", query_string={"facility_id": fid}).get_json()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_report_a_problem_from_the_card(worker, page, page_log, app, lang, screenshots):
    fid = "t-open" if lang == "zh" else "t-members"
    before = _summary(app, fid)["open_reports"]
    worker(lang, position=CORNER)
    page.locator(f"#list li.hit[data-id='{fid}'] .hit-main").click()
    card = page.locator("#card")
    page.wait_for_selector("#card[data-enriched=true]", state="attached")
    assert S[lang]["verified"] in card.inner_text() and "2025-10-01" in card.inner_text()
    assert page.locator("#card-reports").inner_text() == S[lang]["reports"].format(n=before)
    card.get_by_role("button", name=S[lang]["report"]).click()
    status = card.locator(".report-status")
    card.get_by_role("button", name=S[lang]["send"]).click()  # no kind chosen: said so, nothing sent
    assert status.inner_text() == S[lang]["pick"]
    card.get_by_label(S[lang]["full"]).check()
    card.locator("textarea").fill("<b>门口</b><script>alert(3)</script>")
    card.get_by_role("button", name=S[lang]["send"]).click()
    page.wait_for_selector(".report-status[data-state=sent]")
    assert S[lang]["thanks"] in status.inner_text()
    page.wait_for_function("n => document.getElementById('card-reports').textContent.startsWith(String(n))",
                           arg=before + 1)
    assert _summary(app, fid)["open_reports"] == before + 1
    assert page.evaluate("() => document.querySelectorAll('#card b, #card script').length") == 0
    page.screenshot(path=str(screenshots / f"worker-report-{lang}.png"))
    assert page_log.errors == [] and page_log.dialogs == []


def test_reports_show_the_one_error_shape_and_the_rate_limit_wait(worker, page, page_log, app):
    from geo.report_params import MAX_TEXT, RATE_LIMIT

    worker("zh", position=CORNER)
    page.locator("#list li.hit[data-id='t-paused'] .hit-main").click()
    card = page.locator("#card")
    card.get_by_role("button", name="报告问题").click()
    card.get_by_label("其他问题").check()
    status = card.locator(".report-status")
    # too long a text (the box stops typing at the limit; a script is not stopped): the API's own message
    card.locator("textarea").evaluate("(n, max) => { n.removeAttribute('maxlength'); n.value = 'x'.repeat(max + 1); }",
                                      MAX_TEXT)
    card.get_by_role("button", name="提交").click()
    page.wait_for_selector(".report-status[data-state=error]")
    assert status.inner_text().startswith("提交失败：") and "text" in status.inner_text()
    card.locator("textarea").fill("")
    for _ in range(RATE_LIMIT[0]):
        card.get_by_role("button", name="提交").click()
        page.wait_for_selector(".report-status[data-state=sent]")
        page.evaluate("() => { document.querySelector('.report-status').dataset.state = ''; }")
    card.get_by_role("button", name="提交").click()
    page.wait_for_selector(".report-status[data-state=rate]")
    assert re.fullmatch(S["zh"]["rate"], status.inner_text())
    assert page_log.dialogs == []
    # the browser logs the 400 and 429 answers as failed resources; nothing else went wrong
    assert [e for e in page_log.errors if "status of 4" not in e] == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_suggest_a_new_site_at_a_map_position(worker, page, page_log, app, lang):
    worker(lang, position=CORNER)
    spot = _bare_map_spot(page)
    want = _wgs84_at(page, spot)
    page.touchscreen.tap(spot["x"], spot["y"])
    page.locator(".point-menu").get_by_role("button", name=S[lang]["suggest"]).click()
    card = page.locator("#card")
    card.wait_for(state="visible")
    assert _box(page, "#card")["h"] <= 0.5 * 844
    card.locator("textarea").fill("这里夜里很多骑手" if lang == "zh" else "Many riders wait here at night")
    card.get_by_role("button", name=S[lang]["send"]).click()
    page.wait_for_selector(".report-status[data-state=sent]")
    layer = app.test_client().get("/api/v1/reports/layer").get_json()
    sites = [f for f in layer["features"] if f["properties"]["kind"] == "new_site"]
    assert any(abs(f["geometry"]["coordinates"][0] - want[0]) < 0.001
               and abs(f["geometry"]["coordinates"][1] - want[1]) < 0.001 for f in sites)
    assert not _moved_to(page, want)  # suggesting a site does not move me
    assert page_log.errors == []
