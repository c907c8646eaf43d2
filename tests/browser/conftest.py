"""Real-browser tests: Debian Chromium driven by pytest-playwright, the app on 127.0.0.1.

Launch settings follow shared/TESTING.md (checked on this machine kind): Chromium at
/usr/bin/chromium, no sandbox, no background networking, and host-resolver rules that stop
Chromium's own look-ups of Google hosts. The app is served by werkzeug's ``make_server``
from a background thread, on a copy of the shipped sample registry plus one facility whose
name is an XSS probe. Every request that would leave 127.0.0.1 is intercepted: tile requests
are answered with a blank PNG (offline and fast), anything else is aborted and fails the test.
"""

from __future__ import annotations

import base64
import json
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from geo.settings import SHIPPED_DATA
from tests.tools import need_tool

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
#: Screenshots for people to look at (pytest-playwright empties test-results/ on every run).
SCREENSHOTS = REPO / "test-output"
XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_ID = "xss-0001"
#: Facility used for position checks: near 五四广场, 市南区.
HOME = {"lon": 120.3843, "lat": 36.0620}
TILE_HOSTS = ("tile.openstreetmap.org", "autonavi.com", "tianditu.gov.cn")
# 1x1 light-grey PNG.
BLANK_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC")
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update",
    "--disable-sync", "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: runs in a real browser (Chromium via Playwright)")


def pytest_collection_modifyitems(config, items):
    """Tests here that drive a browser (use the ``page`` fixture) are marked ``browser``.

    Without Chromium they are skipped locally and fail under CI (``browser_type_launch_args``).
    """
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents and "page" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


def _xss_feature() -> dict:
    return {
        "type": "Feature", "id": XSS_ID,
        "geometry": {"type": "Point", "coordinates": [HOME["lon"] + 0.0004, HOME["lat"] + 0.0003]},
        "properties": {
            "id": XSS_ID, "kind": "station", "name": XSS_NAME, "district_adcode": "370202", "district": "市南区",
            "name_en": "", "township": "八大关街道", "address": "<script>alert(2)</script>路1号",
            "amenities": ["rest", "microwave", "toilet"], "opening_hours": "24/7", "access": "outdoor_workers",
            "entry": ["staffed"], "capacity": 6, "status": "open", "verified_at": "2025-10-01",
            "phone": "0532-<b>1</b>", "host": "", "sample": True, "source_crs": "wgs84", "source_lon": None,
            "source_lat": None,
        },
    }


@pytest.fixture(scope="session")
def registry_file(tmp_path_factory) -> Path:
    """The working registry: the shipped sample plus the XSS-named facility."""
    data_dir = tmp_path_factory.mktemp("browser-instance")
    doc = json.loads((SHIPPED_DATA / "sample_facilities.geojson").read_text(encoding="utf-8"))
    doc["features"].append(_xss_feature())
    path = data_dir / "facilities.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


@contextmanager
def threaded_app(config: dict):
    """(base_url, app): the app made with ``config`` served from a background thread, stopped after."""
    from werkzeug.serving import make_server

    from web import create_app

    app = create_app({"TESTING": True, **config})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="browser-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def app_server(registry_file):
    """(base_url, app) of the app served from a background thread."""
    with threaded_app({"WORKERMAP_DATA_DIR": registry_file.parent}) as served:
        yield served


@pytest.fixture(scope="session")
def base_url(app_server):
    return app_server[0]


@pytest.fixture(scope="session")
def flask_app(app_server):
    return app_server[1]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium (tests/tools.py: skipped locally without it, a failure under CI)."""
    chromium = str(CHROMIUM) if CHROMIUM.exists() else need_tool("chromium")
    return {**browser_type_launch_args, "executable_path": chromium, "args": LAUNCH_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args, base_url):
    """A phone: 390x844, touch, Chinese locale, Qingdao time zone. Geolocation is granted per test."""
    return {**browser_context_args, "base_url": base_url, "viewport": {"width": 390, "height": 844},
            "device_scale_factor": 2, "is_mobile": True, "has_touch": True, "locale": "zh-CN",
            "timezone_id": "Asia/Shanghai"}


class Traffic:
    """What the page asked for outside 127.0.0.1: tiles (answered blank or aborted) and leaks (aborted)."""

    def __init__(self):
        self.tiles: list[str] = []
        self.leaks: list[str] = []
        self.abort_tiles = False


@pytest.fixture
def traffic(context) -> Traffic:
    t = Traffic()

    def handle(route):
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if host == "127.0.0.1" or url.startswith(("data:", "blob:")):
            route.continue_()
        elif host.endswith(TILE_HOSTS):
            t.tiles.append(url)
            if t.abort_tiles:
                route.abort()
            else:
                route.fulfill(status=200, content_type="image/png", body=BLANK_PNG)
        else:
            t.leaks.append(url)
            route.abort()

    context.route("**/*", handle)
    yield t
    assert t.leaks == [], f"requests left 127.0.0.1: {t.leaks}"


class PageLog:
    def __init__(self, page):
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

        def on_dialog(d):
            self.dialogs.append(f"{d.type}: {d.message}")
            d.dismiss()

        page.on("dialog", on_dialog)


@pytest.fixture
def page_log(page, traffic) -> PageLog:
    return PageLog(page)


@pytest.fixture
def open_worker(page, page_log, traffic):
    """Open the worker page and wait until every facility is on the map."""

    def go(path: str = "/", *, position: dict | None = None):
        if position is not None:
            page.context.grant_permissions(["geolocation"])
            page.context.set_geolocation({"latitude": position["lat"], "longitude": position["lon"]})
        page.goto(path)
        page.wait_for_selector("body[data-state=ready]", state="attached", timeout=15_000)
        if position is not None:
            wait_list(page)
        return page

    return go


def list_seq(page) -> int:
    return int(page.evaluate("() => Number(document.body.dataset.listSeq || 0)"))


def wait_list(page, after: int = 0) -> None:
    """Wait until the nearest list has been answered (a query newer than ``after``)."""
    page.wait_for_function(
        "after => document.body.dataset.listState !== 'loading' && Number(document.body.dataset.listSeq || 0) > after",
        arg=after, timeout=15_000)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS

