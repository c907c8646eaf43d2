"""Basemaps in a real browser at a phone viewport: the default per language and time zone, the remembered
choice, the offline basemap when every request leaving 127.0.0.1 is blocked, and WORKERMAP_TILES=off."""

from __future__ import annotations

import io
import json
import threading
from urllib.parse import urlsplit

import numpy as np
import pytest
from shapely.geometry import Point, shape

from geo.settings import SHIPPED_DATA
from tests.browser.conftest import BLANK_PNG, HOME, TILE_HOSTS, XSS_ID, XSS_NAME
from tests.tools import need_module

#: The offline basemap's colours (web/static/js/common.js OFFLINE_STYLE): sea, and the two district fills.
SEA = (0xAA, 0xD3, 0xDF)
DISTRICT_FILLS = ((0xF6, 0xF1, 0xE4), (0xEF, 0xEA, 0xDB))


def _district_of(lon: float, lat: float) -> tuple[str, str]:
    """(Chinese, English) name of the district holding a point, from the full shipped polygons."""
    doc = json.loads((SHIPPED_DATA / "qingdao_districts_wgs84.geojson").read_text(encoding="utf-8"))
    for f in doc["features"]:
        if shape(f["geometry"]).contains(Point(lon, lat)):
            return f["properties"]["name"], f["properties"]["name_en"]
    raise AssertionError("point outside every district")


def _wait_offline(page) -> None:
    page.wait_for_function("() => document.body.dataset.basemap === 'offline' && "
                           "document.body.dataset.offlineBasemap === 'drawn'", timeout=15_000)
    page.wait_for_timeout(300)  # the last moveend's labels


def _map_area(page) -> dict:
    """The part of the map a person sees on the worker page: below the bar and notices, above the list."""
    return page.evaluate("""() => {
        const m = document.querySelector('.leaflet-container').getBoundingClientRect();
        const bottomOf = sel => { const e = document.querySelector(sel);
            return e && e.offsetParent !== null ? e.getBoundingClientRect().bottom : 0; };
        const top = Math.max(m.top, bottomOf('#bar'), bottomOf('.notices'));
        const panel = document.getElementById('panel');
        const bottom = Math.min(m.bottom, panel ? panel.getBoundingClientRect().top : m.bottom, innerHeight);
        return {x: Math.max(m.left, 0), y: top, width: Math.min(m.right, innerWidth) - Math.max(m.left, 0),
                height: bottom - top};
    }""")


def _visible_labels(page, text: str) -> list[dict]:
    """Offline-basemap labels reading ``text`` whose centre is in the map and not under the page's panels."""
    return page.evaluate("""text => {
        const map = document.querySelector('.leaflet-container');
        return Array.from(document.querySelectorAll('.wm-base-label'))
            .filter(e => e.textContent === text)
            .map(e => e.getBoundingClientRect())
            .filter(r => r.width > 0 && r.height > 0)
            .map(r => ({x: r.left + r.width / 2, y: r.top + r.height / 2}))
            .filter(c => c.x > 0 && c.y > 0 && c.x < innerWidth && c.y < innerHeight)
            .filter(c => { const hit = document.elementFromPoint(c.x, c.y); return hit && map.contains(hit); });
    }""", text)


def _colour_share(pixels: np.ndarray, rgb: tuple[int, int, int], tol: int = 6) -> float:
    return float(np.mean(np.all(np.abs(pixels.astype(int) - np.array(rgb)) <= tol, axis=-1)))


def test_offline_basemap_draws_land_sea_and_my_district_when_everything_outside_is_blocked(
        open_worker, page, page_log, traffic, screenshots):
    pil = need_module("PIL.Image")
    traffic.abort_tiles = True  # every request that leaves 127.0.0.1 is aborted (others fail the test)
    open_worker("/", position=HOME)
    _wait_offline(page)
    assert traffic.tiles, "the page never tried its tiles"
    assert page.evaluate("() => document.body.dataset.basemapFallback") == "amap"  # zh-CN in Asia/Shanghai
    assert page.evaluate("() => WM.worker.basemaps.datum") == "wgs84"
    area = _map_area(page)
    assert area["height"] > 200
    shot = np.asarray(pil.open(io.BytesIO(page.screenshot(path=str(screenshots / "basemap-offline-phone.png"),
                                                          clip=area))).convert("RGB"))
    assert len(np.unique(shot.reshape(-1, 3), axis=0)) > 20 and float(shot.std()) > 10
    # the district I am in is named where I can see it
    zh, en = _district_of(HOME["lon"], HOME["lat"])
    assert _visible_labels(page, zh), f"no visible label {zh}"
    # the basemap alone (the page's markers and outlines hidden), the coast in view: sea and land both drawn
    page.evaluate("() => WM.worker.map.setView([36.0, 120.38], 11, {animate: false})")  # 市南, 崂山 and the sea
    page.add_style_tag(content=".leaflet-marker-pane, .leaflet-overlay-pane, .leaflet-shadow-pane, "
                               ".leaflet-popup-pane { visibility: hidden !important; }")
    page.wait_for_timeout(200)
    base = np.asarray(pil.open(io.BytesIO(page.screenshot(clip=area))).convert("RGB"))
    colours = len(np.unique(base.reshape(-1, 3), axis=0))
    assert colours > 20 and float(base.std()) > 10, (colours, float(base.std()))
    sea, land = _colour_share(base, SEA), sum(_colour_share(base, c) for c in DISTRICT_FILLS)
    page.screenshot(path=str(screenshots / "basemap-offline-phone-z11-bare.png"))
    assert sea > 0.05 and land > 0.1, (sea, land)
    # zoomed out: district and town names; in English: English names
    page.evaluate("() => WM.worker.map.setView([36.4, 120.1], 10, {animate: false})")
    page.wait_for_timeout(200)
    assert len(_visible_labels(page, "胶州市")) == 1 and _visible_labels(page, "南村")
    page.evaluate("() => WM.i18n.set('en')")
    assert _visible_labels(page, "Jiaozhou") and _visible_labels(page, "Nancun")
    page.screenshot(path=str(screenshots / "basemap-offline-phone-en-z10.png"))
    # the automatic switch is not remembered: the next visit tries the tiles again
    assert page.evaluate("() => localStorage.getItem('workermap.basemap')") is None
    non_tile = [e for e in page_log.errors if "ERR_FAILED" not in e]
    assert non_tile == []


def test_facility_names_are_drawn_as_text_at_high_zoom(open_worker, page, page_log, traffic, flask_app):
    traffic.abort_tiles = True
    open_worker("/")
    _wait_offline(page)
    fac = flask_app.extensions["workermap"].registry.get(XSS_ID)
    page.evaluate("([lat, lon]) => WM.worker.map.setView([lat, lon], 18, {animate: false})", [fac.lat, fac.lon])
    page.wait_for_function("name => Array.from(document.querySelectorAll('.wm-base-label.facility'))"
                           ".some(e => e.textContent === name)", arg=XSS_NAME, timeout=10_000)
    page.evaluate("() => WM.worker.map.setView([36.3, 120.2], 12, {animate: false})")
    page.wait_for_timeout(200)
    assert page.locator(".wm-base-label.facility").count() == 0  # only at zoom 16 and above
    assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert page_log.dialogs == []


def test_the_offline_choice_is_in_the_switcher_and_remembered(open_worker, page, page_log, traffic):
    open_worker("/", position=HOME)
    assert page.evaluate("() => document.body.dataset.basemap") == "amap"
    assert traffic.tiles and all(urlsplit(u).hostname.endswith("autonavi.com") for u in traffic.tiles)
    page.locator(".leaflet-control-layers").hover()
    page.locator(".leaflet-control-layers-base label", has_text="离线底图").click()
    _wait_offline(page)
    assert page.evaluate("() => [document.body.dataset.datum, localStorage.getItem('workermap.basemap')]") == [
        "wgs84", "offline"]
    # the position is drawn in WGS84 again (the page was told the datum changed)
    you = page.evaluate("() => { const ll = WM.worker.youLatLng; return [ll.lng, ll.lat]; }")
    assert abs(you[0] - HOME["lon"]) < 1e-9 and abs(you[1] - HOME["lat"]) < 1e-9
    n = len(traffic.tiles)
    page.reload()
    page.wait_for_selector("body[data-state=ready]", state="attached")
    _wait_offline(page)
    assert len(traffic.tiles) == n  # the remembered offline map asked for no tile
    assert page_log.errors == []


@pytest.mark.parametrize(("locale", "timezone", "expected"), [
    ("zh-CN", "Asia/Shanghai", "amap"), ("zh-CN", "Asia/Urumqi", "amap"), ("en-US", "Asia/Shanghai", "osm"),
    ("zh-CN", "Europe/Berlin", "osm"), ("zh-TW", "Asia/Taipei", "osm")])
def test_default_basemap_follows_language_and_time_zone(browser, browser_context_args, base_url, locale, timezone,
                                                        expected):
    context = browser.new_context(**{**browser_context_args, "locale": locale, "timezone_id": timezone})
    asked: list[str] = []

    def handle(route):
        host = urlsplit(route.request.url).hostname or ""
        if host == "127.0.0.1":
            route.continue_()
        else:
            asked.append(host)
            route.fulfill(status=200, content_type="image/png", body=BLANK_PNG)

    context.route("**/*", handle)
    try:
        page = context.new_page()
        page.goto(base_url + "/planner")
        page.wait_for_selector("body[data-state=ready]", state="attached")
        assert page.evaluate("() => WM.planner.basemaps.id") == expected
        tile_host = {"amap": "autonavi.com", "osm": "tile.openstreetmap.org"}[expected]
        assert asked and all(h.endswith(tile_host) for h in asked), asked  # no other basemap's tiles asked for
    finally:
        context.close()


def test_planner_falls_back_to_the_offline_basemap_too(page, page_log, traffic):
    traffic.abort_tiles = True
    page.goto("/planner")
    page.wait_for_selector("body[data-state=ready]", state="attached")
    _wait_offline(page)
    assert page.evaluate("() => WM.planner.basemaps.datum") == "wgs84"
    assert [e for e in page_log.errors if "ERR_FAILED" not in e] == []


@pytest.fixture(scope="module")
def tiles_off_url(tmp_path_factory):
    """A second app, with WORKERMAP_TILES=off, served from a background thread."""
    from werkzeug.serving import make_server

    from web import create_app

    app = create_app({"TESTING": True, "WORKERMAP_DATA_DIR": tmp_path_factory.mktemp("tiles-off"),
                      "WORKERMAP_TILES": "off"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="tiles-off-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_with_tiles_off_no_tile_is_ever_requested(page, page_log, traffic, tiles_off_url, screenshots):
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    for path in ("/", "/planner", "/map"):
        page.goto(tiles_off_url + path)
        page.wait_for_selector("body[data-state=ready]", state="attached", timeout=15_000)
        _wait_offline(page)
        labels = page.locator(".leaflet-control-layers-base label").all_text_contents()
        assert [t.strip() for t in labels] == ["离线底图 Offline map"]  # the switcher offers nothing else
        page.screenshot(path=str(screenshots / f"basemap-tiles-off{path.replace('/', '-') or '-'}.png"))
    assert traffic.tiles == []
    assert [u for u in requested if urlsplit(u).hostname != "127.0.0.1" and not u.startswith("data:")] == []
    assert not any(h in u for u in requested for h in TILE_HOSTS)
    assert page_log.errors == []
