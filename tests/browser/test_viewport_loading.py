"""A large registry — on PostGIS (queried there: geo/store/knn.py) or in the embedded GeoPackage store above
``geo.vector_tiles.VIEWPORT_FACILITIES`` (tiles from memory, mapbox-vector-tile's path): the worker page and /map
load the facilities of the view only, by map tile (web/static/js/viewport.js,
/tiles/facilities/{z}/{x}/{y}.geojson) — never the whole registry — with a first load of at most 300 KB, markers
(and server clusters) appear, and the offline basemap's facility labels come from the same tiles."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from geo.geography import load_districts
from geo.vector_tiles import VIEWPORT_FACILITIES
from tests.browser.conftest import HOME, threaded_app, wait_list
from tests.conftest import open_test_store
from tests.scale_registry import fill_store, scatter

N = 20_000
#: Just above the threshold (3% of a scatter is removed, so 10% more): small enough for CI.
N_EMBEDDED = VIEWPORT_FACILITIES * 11 // 10
WHOLE_LAYERS = ("/worker/facilities.geojson", "/map/facilities.geojson", "/api/v1/facilities", "/api/v1/export")


@pytest.fixture(scope="module")
def postgis_server(pg_server, tmp_path_factory):
    """(base, app, registry size, nearest engine) of N facilities queried in PostGIS."""
    url = pg_server.create_database()
    data_dir = tmp_path_factory.mktemp("viewport")
    store = open_test_store(data_dir, url)
    fill_store(store, scatter(N, load_districts(), seed=1611))
    store.close()
    with threaded_app({"WORKERMAP_DATA_DIR": str(data_dir), "WORKERMAP_DATABASE_URL": url,
                       "WORKERMAP_QUERY_MODE": "database"}) as (base, app):
        yield base, app, N, "ResidentIndex"
        app.extensions["workermap"].store.close()
    pg_server.drop_database(url)


@pytest.fixture(scope="module")
def embedded_server(tmp_path_factory):
    """(base, app, registry size, nearest engine) of just over VIEWPORT_FACILITIES live ones in a GeoPackage."""
    data_dir = tmp_path_factory.mktemp("viewport-gpkg")
    store = open_test_store(data_dir)
    fill_store(store, scatter(N_EMBEDDED, load_districts(), seed=1612))
    store.close()
    with threaded_app({"WORKERMAP_DATA_DIR": str(data_dir)}) as (base, app):
        assert len(app.extensions["workermap"].index.facilities) > VIEWPORT_FACILITIES
        yield base, app, N_EMBEDDED, "FacilityIndex"
        app.extensions["workermap"].store.close()


@pytest.fixture(scope="module", params=["postgis", "geopackage"])
def large_server(request):
    return request.getfixturevalue({"postgis": "postgis_server", "geopackage": "embedded_server"}[request.param])


class Transfers:
    """Every answered request from the app: path and bytes on the wire (headers and encoded body)."""

    def __init__(self, page):
        self.seen: list[tuple[str, int]] = []

        def done(request):
            if urlsplit(request.url).hostname == "127.0.0.1":
                sizes = request.sizes()
                self.seen.append((urlsplit(request.url).path,
                                  sizes["responseBodySize"] + sizes["responseHeadersSize"]))

        page.on("requestfinished", done)

    @property
    def total(self) -> int:
        return sum(n for _, n in self.seen)

    def paths(self) -> list[str]:
        return [p for p, _ in self.seen]


def test_worker_page_loads_only_the_view(large_server, page, page_log, traffic):
    base, app, n, engine = large_server
    assert app.extensions["workermap"].nearest_engine.__class__.__name__ == engine
    transfers = Transfers(page)
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": HOME["lat"], "longitude": HOME["lon"]})
    page.goto(base + "/")
    page.wait_for_selector("body[data-state=ready]", state="attached", timeout=30_000)
    wait_list(page)
    page.locator("#list li.hit").first.wait_for(state="visible")
    # the list fits the map around the hits (from zoom 12: every facility of the view as a marker)
    page.wait_for_function("() => document.querySelectorAll('.leaflet-marker-pane .wm-marker, "
                           ".leaflet-marker-pane .wm-cluster-icon').length > 0", timeout=20_000)
    page.wait_for_load_state("networkidle")
    paths = transfers.paths()
    tiles = [p for p in paths if p.startswith("/tiles/facilities/")]
    assert tiles, paths
    assert not [p for p in paths if p.startswith(WHOLE_LAYERS)], paths
    assert transfers.total <= 300 * 1024, (transfers.total, sorted(transfers.seen, key=lambda s: -s[1])[:8])
    shown = page.evaluate("() => WM.worker.features.length")
    assert 0 < shown < n
    page.evaluate("() => WM.worker.map.setZoom(9)")  # zoomed out: the server's clusters, counted
    page.wait_for_function("() => document.querySelectorAll('.wm-server-cluster').length > 0", timeout=20_000)
    counts = page.evaluate("() => Array.from(document.querySelectorAll('.wm-server-cluster span'))"
                           ".map(s => Number(s.textContent))")
    assert sum(counts) > 100
    assert not [p for p in transfers.paths() if p.startswith(WHOLE_LAYERS)]
    assert page_log.errors == []


def test_overview_map_loads_only_the_view(large_server, page, page_log, traffic):
    base, _, n, _ = large_server
    transfers = Transfers(page)
    page.goto(base + "/map")
    page.wait_for_selector("body[data-state=ready]", state="attached", timeout=30_000)
    page.wait_for_function("() => document.querySelectorAll('.wm-server-cluster').length > 0", timeout=20_000)
    page.wait_for_function("() => /[0-9]/.test(document.getElementById('total').textContent)")
    total = page.evaluate("() => document.getElementById('total').textContent")
    assert str(n) in total.replace(",", "")  # the legend counts the whole registry (from /api/v1/meta)
    page.evaluate("() => WM.overview.map.setView([36.062, 120.3843], 14)")
    page.wait_for_function("() => document.querySelectorAll('.leaflet-marker-pane .wm-marker, "
                           ".leaflet-marker-pane .ov-cluster').length > 0 && "
                           "!document.querySelector('.wm-server-cluster')", timeout=20_000)
    for _ in range(100):  # the point tiles' answers (zoom 14 reads the zoom-12 tiles) reach the log
        if [p for p in transfers.paths() if p.startswith("/tiles/facilities/12/")]:
            break
        page.wait_for_timeout(100)
    paths = transfers.paths()
    assert [p for p in paths if p.startswith("/tiles/facilities/12/")], [p for p in paths if "tiles" in p]
    assert not [p for p in paths if p.startswith(WHOLE_LAYERS)], paths
    assert page_log.errors == []


def test_offline_basemap_labels_facilities_from_the_view_tiles(embedded_server, page, page_log, traffic):
    base, app, _, _ = embedded_server
    traffic.abort_tiles = True  # the online basemaps fail: the offline one (web/static/js/common.js) is drawn
    transfers = Transfers(page)
    page.goto(base + "/")
    page.wait_for_selector("body[data-state=ready]", state="attached", timeout=30_000)
    page.wait_for_function("() => document.body.dataset.offlineBasemap === 'drawn'", timeout=15_000)
    fac = app.extensions["workermap"].index.facilities[0]
    page.evaluate("([lat, lon]) => WM.worker.map.setView([lat, lon], 17, {animate: false})", [fac.lat, fac.lon])
    page.wait_for_function("name => Array.from(document.querySelectorAll('.wm-base-label.facility'))"
                           ".some(e => e.textContent === name)", arg=fac.name, timeout=10_000)
    assert not [p for p in transfers.paths() if p.startswith(WHOLE_LAYERS)], transfers.paths()
    assert [e for e in page_log.errors if "ERR_FAILED" not in e] == []


def test_a_view_asked_again_while_loading_gives_the_newest_view_to_every_caller(embedded_server, page, page_log,
                                                                                traffic):
    """The offline basemap's datum switch (every tile request blocked) asks for the view again while the page's
    first view loads: the first caller must get that newer view, not nothing — it drew no facility at all (the
    national page at the point zoom showed 0 markers until it was panned)."""
    base, *_ = embedded_server
    page.goto(base + "/")
    page.wait_for_selector("body[data-state=ready]", state="attached", timeout=30_000)
    got = page.evaluate("""async () => {
      const map = WM.worker.map, cfg = WM.cfg.viewport;
      const tiles = new WM.ViewportTiles(map, {url: cfg.tiles, pointZoom: cfg.point_zoom});
      map.setZoom(cfg.point_zoom, {animate: false});
      const first = tiles.load(), second = tiles.load();
      const a = await first, b = await second;
      return {a: a && a.points.features.map(f => f.id), b: b && b.points.features.map(f => f.id)};
    }""")
    assert got["a"] and got["a"] == got["b"]
