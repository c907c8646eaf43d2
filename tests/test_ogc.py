"""OGC API – Features at /ogc: in-process contract tests, then real clients (GDAL's OAPIF driver, Chromium).

The live-server helpers here (:func:`serve`, :func:`sample_server`) are also used by
test_openapi.py and test_exports_api.py.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
import textwrap
import threading
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.crs import geodesic_distance_m
from geo.model import KINDS
from geo.settings import SHIPPED_DATA
from tests.conftest import SMALL, make_facility, write_registry
from tests.tools import need_module, need_tool
from web.assets import asset_name

XSS = "<img src=x onerror=alert(1)>"
#: SMALL plus facilities with verified_at dates, an apartment and a name that is an XSS attempt.
OGC_FACILITIES = [
    *SMALL,
    make_facility(6, verified_at="2025-03-01", amenities=("rest", "toilet", "wifi")),
    make_facility(7, kind="apartment", name="测试职工公寓", verified_at="2025-06-30", lon=120.39, lat=36.07),
    make_facility(8, name=XSS, verified_at="2026-01-15", lon=120.3805, lat=36.0651),
]
CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"


# -- fixtures and helpers ---------------------------------------------------------------------------

@pytest.fixture
def ogc_client(tmp_path):
    from web import create_app

    write_registry(tmp_path / "instance" / "facilities.geojson", OGC_FACILITIES)
    return create_app({"TESTING": True, "WORKERMAP_DATA_DIR": tmp_path / "instance"}).test_client()


@contextlib.contextmanager
def serve(data_dir):
    """Run the app on 127.0.0.1 on a free port in a thread; yields the base URL."""
    from werkzeug.serving import make_server

    from web import create_app

    # a 500 m land raster: the planner answers (land by default) of the fuzzing against this server stay quick
    app = create_app({"WORKERMAP_DATA_DIR": data_dir, "WORKERMAP_LAND_CELL_M": 500})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture(scope="module")
def sample_server(tmp_path_factory):
    """The app serving a copy of the shipped sample registry (1,676 facilities)."""
    d = tmp_path_factory.mktemp("sample-instance")
    shutil.copy(SHIPPED_DATA / "sample_facilities.geojson", d / "facilities.geojson")
    with serve(d) as url:
        yield url


def items(client, collection: str, query: str = "", **kw) -> dict:
    r = client.get(f"/ogc/collections/{collection}/items?{query}", **kw)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.mimetype == "application/geo+json"
    return r.get_json(force=True)


def ids(doc: dict) -> list[str]:
    return [f["id"] for f in doc["features"]]


def link(doc: dict, rel: str) -> dict | None:
    return next((lk for lk in doc["links"] if lk["rel"] == rel), None)


def error_of(r, status: int = 400) -> dict:
    assert r.status_code == status, r.get_data(as_text=True)
    err = r.get_json()["error"]
    assert set(err) >= {"status", "code", "message"} and err["status"] == status
    return err


LIVE_IDS = {f.id for f in OGC_FACILITIES if f.status != "removed"}


# -- landing page, conformance, collections ---------------------------------------------------------

def test_landing_page_links_everything(ogc_client):
    r = ogc_client.get("/ogc")
    assert r.status_code == 200 and r.mimetype == "application/json"
    rels = {lk["rel"]: lk for lk in r.get_json()["links"]}
    assert {"self", "alternate", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    assert rels["service-desc"]["type"].startswith("application/vnd.oai.openapi+json")
    for rel in ("service-desc", "service-doc", "conformance", "data"):
        assert ogc_client.get(urlsplit(rels[rel]["href"]).path).status_code == 200, rel


def test_conformance_declares_core_geojson_html_oas30(ogc_client):
    classes = ogc_client.get("/ogc/conformance").get_json()["conformsTo"]
    assert CORE in classes
    assert {c.rsplit("/", 1)[1] for c in classes} >= {"core", "geojson", "html", "oas30"}


def test_collections_one_per_kind_plus_facilities_and_districts(ogc_client):
    doc = ogc_client.get("/ogc/collections").get_json()
    assert [c["id"] for c in doc["collections"]] == [*KINDS, "facilities", "districts"]
    for c in doc["collections"]:
        bbox = c["extent"]["spatial"]["bbox"][0]
        assert 119 < bbox[0] <= bbox[2] < 122 and 35 < bbox[1] <= bbox[3] < 38, c["id"]
        item_links = [lk for lk in c["links"] if lk["rel"] == "items"]
        assert {lk["type"] for lk in item_links} == {"application/geo+json", "text/html"}
        assert ogc_client.get(f"/ogc/collections/{c['id']}").get_json()["id"] == c["id"]


def test_collection_temporal_extent_is_verified_at_in_utc(ogc_client):
    c = ogc_client.get("/ogc/collections/facilities").get_json()
    # verified_at 2025-03-01 .. 2026-01-15, Qingdao dates (UTC+8) as UTC instants
    assert c["extent"]["temporal"]["interval"] == [["2025-02-28T16:00:00Z", "2026-01-15T15:59:59Z"]]


@pytest.mark.parametrize("path", ["/ogc/collections/spaceport", "/ogc/collections/spaceport/items",
                                  "/ogc/collections/spaceport/items/t-001"])
def test_unknown_collection_is_404_in_the_one_error_shape(ogc_client, path):
    err = error_of(ogc_client.get(path), 404)
    assert err["parameter"] == "collectionId"
    assert "spaceport" in err["message"] and "station" in err["message"]


# -- items: the response document -------------------------------------------------------------------

def test_items_document_has_counts_timestamp_and_links(ogc_client):
    doc = items(ogc_client, "facilities")
    assert doc["type"] == "FeatureCollection"
    assert doc["numberMatched"] == doc["numberReturned"] == len(LIVE_IDS)
    assert datetime.fromisoformat(doc["timeStamp"].replace("Z", "+00:00")).tzinfo is not None
    assert link(doc, "self")["type"] == "application/geo+json"
    assert link(doc, "alternate")["type"] == "text/html"
    assert link(doc, "next") is None and link(doc, "prev") is None
    assert "crs" not in doc
    f = doc["features"][0]
    assert f["geometry"]["type"] == "Point" and f["id"] == f["properties"]["id"]


def test_removed_facilities_only_when_asked_for(ogc_client):
    assert set(ids(items(ogc_client, "facilities"))) == LIVE_IDS
    assert ids(items(ogc_client, "facilities", "status=removed")) == ["t-005"]
    both = set(ids(items(ogc_client, "station", "status=open,removed")))
    assert "t-005" in both and "t-001" in both


def test_paging_walks_every_item_once_with_next_and_prev(ogc_client):
    doc = items(ogc_client, "facilities", "limit=2")
    seen = ids(doc)
    pages = 1
    while (nxt := link(doc, "next")) is not None:
        assert parse_qs(urlsplit(nxt["href"]).query)["limit"] == ["2"]
        doc = items(ogc_client, "facilities", urlsplit(nxt["href"]).query)
        assert doc["numberMatched"] == len(LIVE_IDS) and doc["numberReturned"] <= 2
        assert link(doc, "prev") is not None
        seen += ids(doc)
        pages += 1
    assert sorted(seen) == sorted(LIVE_IDS) and pages == 4
    prev = items(ogc_client, "facilities", urlsplit(link(doc, "prev")["href"]).query)
    assert parse_qs(urlsplit(prev["links"][0]["href"]).query)["offset"] == ["4"]


def test_limit_above_the_maximum_is_served_as_the_maximum(ogc_client):
    doc = items(ogc_client, "facilities", "limit=50000")
    assert doc["numberReturned"] == len(LIVE_IDS)
    assert "limit=50000" in link(doc, "self")["href"]


@pytest.mark.parametrize("query,param", [
    ("limit=0", "limit"), ("limit=abc", "limit"), ("offset=-1", "offset"), ("f=xml", "f"),
    ("bbox=120,36,121", "bbox"), ("bbox=120,37,121,36", "bbox"), ("bbox=a,b,c,d", "bbox"),
    ("bbox=0,95,1,96", "bbox"),
    ("datetime=yesterday", "datetime"), ("datetime=2025-02-01/2025-01-01", "datetime"),
    ("datetime=2025-01-01/2025-02-01/2025-03-01", "datetime"),
    ("kind=spaceport", "kind"), ("amenity=jacuzzi", "amenity"), ("status=closed", "status"),
    ("district=北京", "district"), ("near=120.38", "near"), ("near=36.06,120.38", "near"),
    ("near=120.38,36.06&radius_m=0", "radius_m"), ("near=120.38,36.06&radius_m=300000", "radius_m"),
    ("radius_m=500", "radius_m"), ("colour=red", "colour"), ("bbox=", "bbox"), ("kind=", "kind"),
])
def test_bad_parameters_are_400_naming_parameter_value_and_allowed(ogc_client, query, param):
    err = error_of(ogc_client.get(f"/ogc/collections/facilities/items?{query}"))
    assert err["parameter"] == param and param in err["message"]
    assert "allowed" in err, err
    value = parse_qs(query, keep_blank_values=True)[param][0]
    if value and param != "colour":
        assert value.split(",")[0] in err["message"], err["message"]


def test_swapped_near_gets_a_hint(ogc_client):
    err = error_of(ogc_client.get("/ogc/collections/facilities/items?near=36.06,120.38"))
    assert "swapped" in err["message"]


def test_kind_filter_only_on_the_all_facilities_collection(ogc_client):
    assert set(ids(items(ogc_client, "facilities", "kind=apartment,mother_room"))) == {"t-003", "t-007"}
    err = error_of(ogc_client.get("/ogc/collections/station/items?kind=station"))
    assert err["code"] == "unknown_parameter" and err["parameter"] == "kind"
    err = error_of(ogc_client.get("/ogc/collections/districts/items?amenity=rest"))
    assert err["code"] == "unknown_parameter"


@pytest.mark.parametrize("query,expected", [
    ("district=市北区", {"t-004"}),
    ("district=370203", {"t-004"}),
    ("district=Shibei", {"t-004"}),
    ("district=370203,市南区&amenity=toilet", {"t-002", "t-006"}),
    ("amenity=rest,toilet", {"t-002", "t-006"}),
    ("amenity=wifi", {"t-006"}),
    ("bbox=120.35,36.08,120.36,36.09", {"t-004"}),
    ("bbox=120.35,36.08,0,120.36,36.09,100", {"t-004"}),
    ("bbox=120.3525,36.088,120.3525,36.088", {"t-004"}),  # a point on the box's edge is inside
    ("datetime=2025-06-30", {"t-007"}),
    ("datetime=2025-01-01/2025-12-31", {"t-006", "t-007"}),
    ("datetime=2025-06-01/..", {"t-007", "t-008"}),
    ("datetime=../2025-03-01", {"t-006"}),
    ("datetime=2026-01-14T16:30:00Z", {"t-008"}),  # 00:30 on 15 January in Qingdao
    ("datetime=2025-03-01T09:00:00%2B08:00/2025-03-01T10:00:00%2B08:00", {"t-006"}),
])
def test_filters(ogc_client, query, expected):
    assert set(ids(items(ogc_client, "facilities", query))) == expected


def test_near_orders_by_geodesic_distance_and_adds_distance_m(ogc_client):
    lon, lat = 120.3843, 36.0620
    doc = items(ogc_client, "facilities", f"near={lon},{lat}")
    got = [(f["id"], f["properties"]["distance_m"]) for f in doc["features"]]
    expected = sorted(
        ((f.id, float(geodesic_distance_m(lon, lat, f.lon, f.lat)))
         for f in OGC_FACILITIES if f.status != "removed"),
        key=lambda t: t[1])
    assert [i for i, _ in got] == [i for i, _ in expected]
    assert np.allclose([d for _, d in got], [d for _, d in expected], atol=0.06)
    near = items(ogc_client, "facilities", f"near={lon},{lat}&radius_m=500")
    assert all(f["properties"]["distance_m"] <= 500 for f in near["features"])
    assert {f["id"] for f in near["features"]} == {i for i, d in expected if d <= 500}


def test_near_and_paging_combine(ogc_client):
    q = "near=120.3843,36.062&limit=4"
    first, second = items(ogc_client, "facilities", q), items(ogc_client, "facilities", q + "&offset=4")
    dist = [f["properties"]["distance_m"] for f in first["features"] + second["features"]]
    assert dist == sorted(dist) and len(dist) == len(LIVE_IDS)


# -- one item ---------------------------------------------------------------------------------------

def test_item_is_a_feature_with_links(ogc_client):
    r = ogc_client.get("/ogc/collections/station/items/t-001")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    f = r.get_json(force=True)
    assert f["type"] == "Feature" and f["id"] == "t-001"
    assert {lk["rel"] for lk in f["links"]} >= {"self", "alternate", "collection"}


def test_item_of_another_kind_or_unknown_is_404(ogc_client):
    assert ogc_client.get("/ogc/collections/facilities/items/t-007").status_code == 200
    err = error_of(ogc_client.get("/ogc/collections/station/items/t-007"), 404)
    assert err["parameter"] == "featureId" and "t-007" in err["message"]
    error_of(ogc_client.get("/ogc/collections/facilities/items/nope"), 404)


def test_removed_item_is_served_with_its_status(ogc_client):
    f = ogc_client.get("/ogc/collections/station/items/t-005").get_json(force=True)
    assert f["properties"]["status"] == "removed"


# -- districts --------------------------------------------------------------------------------------

def test_districts_collection_is_rfc7946_polygons(ogc_client):
    doc = items(ogc_client, "districts")
    assert doc["numberMatched"] == 10 and all(re.fullmatch(r"3702\d\d", i) for i in ids(doc))
    for f in doc["features"]:
        polys = f["geometry"]["coordinates"] if f["geometry"]["type"] == "MultiPolygon" else [
            f["geometry"]["coordinates"]]
        for rings in polys:
            assert shapely.is_ccw(shapely.linearrings(rings[0]))
            assert not any(shapely.is_ccw(shapely.linearrings(h)) for h in rings[1:])


def test_district_filters_and_item(ogc_client):
    assert ids(items(ogc_client, "districts", "district=市南区,Laoshan")) == ["370202", "370212"]
    assert "370202" in ids(items(ogc_client, "districts", "bbox=120.38,36.06,120.39,36.07"))
    assert ogc_client.get("/ogc/collections/districts/items/370202").get_json(force=True)["properties"][
        "name"] == "市南区"
    error_of(ogc_client.get("/ogc/collections/districts/items/110000"), 404)


# -- HTML -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/ogc", "/ogc/conformance", "/ogc/collections", "/ogc/collections/station",
    "/ogc/collections/facilities/items", "/ogc/collections/facilities/items/t-008",
    "/ogc/collections/districts/items/370202", "/ogc/collections/facilities/items?near=120.38,36.06",
])
def test_html_views_escape_names_and_use_local_assets(ogc_client, path):
    sep = "&" if "?" in path else "?"
    r = ogc_client.get(f"{path}{sep}f=html")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert "<img src=x" not in html
    urls = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert all(u.startswith(("/static/", "http://localhost/ogc")) for u in urls), urls
    for u in urls:
        if u.startswith("/static/"):
            asset = ogc_client.get(u)
            assert asset.status_code == 200, u
            asset.close()
    if "items" in path:
        assert asset_name("vendor/leaflet/leaflet.js") in html and 'id="wm-map-data"' in html
        if "t-008" in path or path.endswith("/items"):
            assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_accept_header_chooses_html(ogc_client):
    r = ogc_client.get("/ogc/collections", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.mimetype == "text/html"
    assert ogc_client.get("/ogc/collections", headers={"Accept": "*/*"}).mimetype == "application/json"


# -- property: paging and bbox equal a brute-force selection ----------------------------------------

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lon=st.floats(120.37, 120.40), lat=st.floats(36.05, 36.10), w=st.floats(0, 0.04), h=st.floats(0, 0.04),
       limit=st.integers(1, 4), offset=st.integers(0, 8))
def test_bbox_page_equals_brute_force(ogc_client, lon, lat, w, h, limit, offset):
    box = (lon, lat, lon + w, lat + h)
    doc = items(ogc_client, "facilities", "bbox={},{},{},{}&limit={}&offset={}".format(*box, limit, offset))
    inside = [f.id for f in OGC_FACILITIES
              if f.status != "removed" and box[0] <= f.lon <= box[2] and box[1] <= f.lat <= box[3]]
    assert doc["numberMatched"] == len(inside)
    assert ids(doc) == inside[offset:offset + limit]


# -- real clients -----------------------------------------------------------------------------------

def ogrinfo(*args: str) -> str:
    """GDAL's ``ogrinfo -ro``; the test needs gdal-bin (skipped locally, failed under CI without it)."""
    out = subprocess.run([need_tool("ogrinfo"), "-ro", *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture(scope="module")
def sample_counts():
    import json

    doc = json.loads((SHIPPED_DATA / "sample_facilities.geojson").read_text(encoding="utf-8"))
    kinds = [f["properties"]["kind"] for f in doc["features"] if f["properties"]["status"] != "removed"]
    return {**{k: kinds.count(k) for k in KINDS}, "facilities": len(kinds), "districts": 10}


def test_gdal_oapif_lists_every_collection_with_the_right_counts(sample_server, sample_counts):
    listing = ogrinfo(f"OAPIF:{sample_server}/ogc")
    listed = re.findall(r"^\d+: (\S+) \(title:", listing, flags=re.M)
    assert listed == [*KINDS, "facilities", "districts"]
    for cid, expected in sample_counts.items():
        info = ogrinfo("-so", f"OAPIF:{sample_server}/ogc", cid)
        assert int(re.search(r"Feature Count: (\d+)", info).group(1)) == expected, cid


def test_gdal_pages_through_every_feature(sample_server, sample_counts):
    out = ogrinfo("-q", "-oo", "PAGE_SIZE=500", f"OAPIF:{sample_server}/ogc", "facilities")
    assert len(re.findall(r"^OGRFeature", out, flags=re.M)) == sample_counts["facilities"]
    assert len(set(re.findall(r"^  id \(String\) = (\S+)", out, flags=re.M))) == sample_counts["facilities"]


def test_gdal_bbox_query_returns_what_our_items_endpoint_returns(sample_server):
    import json
    import urllib.request

    box = (120.30, 36.03, 120.45, 36.10)
    out = ogrinfo("-q", "-oo", "PAGE_SIZE=1000", "-spat", *map(str, box), f"OAPIF:{sample_server}/ogc",
                  "station")
    via_gdal = re.findall(r"^  id \(String\) = (\S+)", out, flags=re.M)
    url = f"{sample_server}/ogc/collections/station/items?limit=10000&bbox={','.join(map(str, box))}"
    with urllib.request.urlopen(url, timeout=30) as resp:
        ours = [f["id"] for f in json.load(resp)["features"]]
    assert len(ours) > 50 and sorted(via_gdal) == sorted(ours)


#: A Playwright script run in its own process: pytest-playwright (used by tests/browser) keeps an event
#: loop running in this one, and the sync API refuses to start inside it. BODY sees ``page``, ``base``
#: and ``out`` (a dict printed as JSON at the end: dialogs, page errors, requests that left 127.0.0.1).
_BROWSER_SCRIPT = """
import json, sys
from playwright.sync_api import sync_playwright

base, chromium = sys.argv[1], sys.argv[2]
out = {"dialogs": [], "errors": [], "outside": []}
args = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update",
        "--disable-sync", "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=chromium, args=args)
    page = browser.new_page()
    page.on("dialog", lambda d: (out["dialogs"].append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: out["errors"].append(str(e)))

    def route(r):
        if r.request.url.startswith(base):
            return r.continue_()
        out["outside"].append(r.request.url)
        return r.abort()

    page.route("**/*", route)
BODY
    browser.close()
print(json.dumps(out))
"""


def in_browser(base: str, body: str) -> dict:
    """Run ``body`` (Playwright sync code) in headless Debian Chromium against ``base``; return ``out``.

    The test needs Playwright and Chromium (skipped locally, failed under CI without them).
    """
    need_module("playwright")
    chromium = need_tool("chromium")
    script = _BROWSER_SCRIPT.replace("BODY", textwrap.indent(textwrap.dedent(body).strip(), " " * 4))
    run = subprocess.run([sys.executable, "-c", script, base, chromium], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_browser_item_map_shows_the_name_as_text(tmp_path):
    """A real browser: the XSS name is shown as text in the table and the popup, no script runs."""
    write_registry(tmp_path / "facilities.geojson", OGC_FACILITIES)
    with serve(tmp_path) as base:
        out = in_browser(base, """
            page.goto(base + "/ogc/collections/facilities/items?f=html&near=120.3805,36.0651&radius_m=300")
            page.wait_for_selector("#wm-map[data-features]")
            out["features"] = page.get_attribute("#wm-map", "data-features")
            out["cell"] = page.inner_text("table tbody td:nth-child(2)")
            page.click("path.leaflet-interactive")
            popup = page.wait_for_selector(".leaflet-popup-content")
            out["popup"] = popup.inner_text()
            out["popup_img"] = popup.query_selector("img") is not None
            page.click(".leaflet-popup-content a")
            page.wait_for_url("**/items/t-008?f=html")
            out["h1"] = page.inner_text("h1")
        """)
    assert out["features"] == "1" and out["cell"] == XSS and out["h1"] == XSS
    assert XSS in out["popup"] and not out["popup_img"]
    assert out["dialogs"] == [] and out["errors"] == []
    assert all(urlsplit(u).hostname == "tile.openstreetmap.org" for u in out["outside"]), out["outside"]
