"""What the pages download for their maps: the worker page's light layer (marker, label and filter fields only:
a card asks for the full record), the overview's layer with what its popups show, and the worker page's early
start (the nearest list asked before the map scripts; the map layer not preloaded)."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from tests.conftest import make_facility, write_registry
from web.maps import MAP_FIELDS, OVERVIEW_FIELDS

#: What only the detail card shows: never in the worker page's map layer.
CARD_ONLY = ("address", "phone", "verified_at", "capacity", "township", "entry", "host", "district",
             "district_adcode", "sample", "source_crs", "source_lon", "source_lat")
#: What the page's markers (kind, name), offline labels (name_en) and filters (amenities, access, hours, status) read.
FILTERED_ON = ("kind", "name", "amenities", "opening_hours", "access", "status")

FACILITIES = [
    make_facility(1, name_en="Test station 1", township="八大关街道", address="测试路1号", phone="0532-1",
                  verified_at="2025-10-01", capacity=6, entry=("staffed",)),
    make_facility(2, opening_hours=None, amenities=()),  # hours unknown, no amenities
    make_facility(3, opening_hours="Mo-Fr 08:00-18:00", workday_calendar=True, access="employees"),
    make_facility(4, status="removed"),
]


@pytest.fixture
def layers_app(tmp_path):
    from web import create_app

    write_registry(tmp_path / "d" / "facilities.geojson", FACILITIES)
    return create_app({"TESTING": True, "WORKERMAP_DATA_DIR": tmp_path / "d"})


def _expected(f, fields) -> dict:
    """The properties a layer of ``fields`` should carry for facility ``f``, from its record directly."""
    out = {}
    for k in fields:
        v = getattr(f, k)
        if v in ("", None, ()) or v is False:
            continue  # empty values and a false workday_calendar are left out
        out[k] = list(v) if isinstance(v, tuple) else v
    out["hours_known"] = f.opening_hours is not None
    return out


@pytest.mark.parametrize(("url", "fields"), [("/worker/facilities.geojson", MAP_FIELDS),
                                             ("/map/facilities.geojson", OVERVIEW_FIELDS)])
def test_each_map_layer_carries_exactly_its_fields(layers_app, url, fields):
    doc = layers_app.test_client().get(url).get_json(force=True)
    live = [f for f in FACILITIES if f.status != "removed"]
    assert [f["id"] for f in doc["features"]] == [f.id for f in live]
    assert doc["metadata"]["fields"] == [*fields, "hours_known"]
    for feat, fac in zip(doc["features"], live, strict=True):
        assert feat["properties"] == _expected(fac, fields)
        assert feat["geometry"]["coordinates"] == [round(fac.lon, 6), round(fac.lat, 6)]


def test_the_worker_layer_leaves_what_only_a_card_shows_to_the_full_record(layers_app):
    client = layers_app.test_client()
    layer = client.get("/worker/facilities.geojson").get_json(force=True)
    props = {f["id"]: f["properties"] for f in layer["features"]}
    assert not any(k in p for p in props.values() for k in CARD_ONLY)
    assert set(FILTERED_ON) <= set(props["t-001"]) and props["t-001"]["name_en"] == "Test station 1"
    assert props["t-003"]["workday_calendar"] is True and "workday_calendar" not in props["t-001"]
    assert props["t-002"]["hours_known"] is False and "opening_hours" not in props["t-002"]
    # the card's request (worker.js: /ogc/collections/facilities/items/<id>) has every field the layer left out
    full = client.get("/ogc/collections/facilities/items/t-001?f=json").get_json()["properties"]
    assert full["address"] == "测试路1号" and full["phone"] == "0532-1" and full["verified_at"] == "2025-10-01"
    assert full["township"] == "八大关街道" and full["capacity"] == 6 and full["entry"] == ["staffed"]


def test_the_worker_layer_is_a_third_of_the_full_facilities(sample_app):
    """The shipped 1,676 facilities: the layer the worker page downloads against /api/v1/facilities, gzip."""
    client = sample_app.test_client()
    light = gzip.compress(client.get("/worker/facilities.geojson").data)
    full = gzip.compress(client.get("/api/v1/facilities").data)
    overview = gzip.compress(client.get("/map/facilities.geojson").data)
    assert len(light) < 0.45 * len(full) and len(light) < len(overview) < len(full)


def test_the_overview_map_reads_its_own_layer_and_the_worker_page_the_light_one(sample_app):
    client = sample_app.test_client()

    def config(url: str) -> dict:
        html = client.get(url).get_data(as_text=True)
        return json.loads(re.search(r'<script[^>]* id="wm-config"[^>]*>(.*?)</script>', html, re.S)[1])

    assert config("/")["urls"]["facilities"] == "/worker/facilities.geojson"
    assert config("/map")["urls"]["facilities"] == "/map/facilities.geojson"
    r = client.get("/map/facilities.geojson", headers={"Accept-Encoding": "br"})
    assert r.headers["Content-Encoding"] == "br" and r.headers["Cache-Control"].startswith("public, max-age=")
    assert client.get("/map/facilities.geojson", headers={"Accept-Encoding": "br", "If-None-Match": r.headers["ETag"]}
                      ).status_code == 304
    assert client.get("/map/facilities.geojson?x=1").status_code == 400


def test_the_worker_page_asks_for_the_list_before_the_map_scripts(sample_app):
    """worker-boot.js comes first in the page (with the settings it needs on its tag), before Leaflet and
    worker.js; the map layer is not preloaded (it would take the bandwidth the scripts and the list need)."""
    html = sample_app.test_client().get("/").get_data(as_text=True)
    boot = re.search(r'<script src="(/static/js/worker-boot\.[0-9a-f]{10}\.js)"([^>]*)>', html)
    assert boot, "no worker-boot script"
    attrs = dict(re.findall(r'data-(\w+)=(?:"([^"]*)"|\'[^\']*\')', boot[2]))
    assert attrs["nearest"] == "/api/v1/nearest" and attrs["k"] == "8"
    access = json.loads(re.search(r"data-access='([^']*)'", boot[2])[1])
    assert access["outdoor_worker"] == ["outdoor_workers"]
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts[0] == boot[1]
    assert scripts.index(boot[1]) < min(i for i, s in enumerate(scripts) if "leaflet" in s or "/worker." in s)
    preloads = re.findall(r'<link rel="preload" href="([^"]+)"', html)
    assert "/worker/facilities.geojson" not in preloads and "/worker/hours?at=now" in preloads
