"""The web layer: facilities as GeoJSON, one error shape, the map page with local assets."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from tests.conftest import SMALL
from web.assets import asset_name


def test_facilities_geojson_excludes_removed(client):
    r = client.get("/api/v1/facilities")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    fc = r.get_json(force=True)
    ids = {f["id"] for f in fc["features"]}
    assert ids == {f.id for f in SMALL if f.status != "removed"}
    assert fc["metadata"]["sample"] is False


def test_facilities_gzip(client):
    r = client.get("/api/v1/facilities", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    assert len(json.loads(gzip.decompress(r.data))["features"]) == 4


@pytest.mark.parametrize("query,expected", [
    ("kind=mother_room", {"t-003"}),
    ("district=市北区", {"t-004"}),
    ("district=370202&kind=station", {"t-001", "t-002"}),
])
def test_facility_filters(client, query, expected):
    fc = client.get(f"/api/v1/facilities?{query}").get_json(force=True)
    assert {f["id"] for f in fc["features"]} == expected


@pytest.mark.parametrize("query,param", [
    ("kind=spaceport", "kind"),
    ("district=北京", "district"),
    ("colour=red", "colour"),
])
def test_bad_parameters_get_the_one_error_shape(client, query, param):
    r = client.get(f"/api/v1/facilities?{query}")
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert set(err) >= {"status", "code", "message", "parameter"}
    assert err["status"] == 400 and err["parameter"] == param and param in err["message"]


def test_unknown_route_is_json_404(client):
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.get_json()["error"]["status"] == 404


def test_meta_lists_vocabularies(client):
    m = client.get("/api/v1/meta").get_json()
    assert m["kinds"]["station"]["zh"] == "工会驿站" and "microwave" in m["amenities"]
    assert m["counts"]["total"] == len(SMALL)


def test_map_page_uses_only_local_assets(client):
    html = client.get("/map").get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(u.endswith(asset_name("vendor/leaflet/leaflet.js")) for u in urls)  # under its content hash
    external = [u for u in urls if u.startswith(("http:", "https:", "//"))]
    assert external == [], external
    assert "cdn" not in html.lower()
    for u in urls:
        if u.startswith("/static/"):
            r = client.get(u)
            assert r.status_code == 200, u
            r.close()
